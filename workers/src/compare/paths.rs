//! Classifies function keys by where their code lives: built-ins, the standard library
//! and installed third-party packages, judged from the key's file text alone.

/// True for keys the profilers use for C functions, all at line 0: cProfile's `~`,
/// `profile`'s empty file name, yappi's C module names (`builtins`, `_sre`, `io`,
/// `posix`, ...). The `profile` module's fake roots (file `profile`) are not C code.
pub fn is_builtin(file: &str, line: i64) -> bool {
    if line != 0 {
        return false;
    }
    match file {
        "~" | "" | "builtins" => true,
        "profile" => false,
        // A bare dotted module name, never a path or a `<...>` pseudo-file.
        _ => {
            file.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
                && !file.ends_with(".py")
        }
    }
}

/// True for code from the Python standard library or from installed packages:
/// `.../lib/pythonX.Y/...`, `.../site-packages/...`, `.../dist-packages/...`, Windows
/// installs (`...\Python311\Lib\...`, any `\Lib\` folder in a backslash path) and
/// frozen modules (`<frozen os>`).
pub fn is_stdlib(file: &str) -> bool {
    if file.starts_with("<frozen ") {
        return true;
    }
    // Compare folder names one by one so a project folder merely called `lib` or a file
    // named `site-packages.py` does not count.
    let windows = file.contains('\\');
    let parts: Vec<&str> = file.split(['/', '\\']).collect();
    let folders = parts.len().saturating_sub(1);
    let parts = &parts[..folders];
    for (i, part) in parts.iter().enumerate() {
        let lower = part.to_ascii_lowercase();
        if lower == "site-packages" || lower == "dist-packages" {
            return true;
        }
        let prev = i.checked_sub(1).and_then(|j| parts.get(j));
        // Unix layouts: lib/python3.11, lib64/python3.11, lib/pypy3.10, lib/python3.
        let is_versioned_python = |s: &str| {
            let s = s.to_ascii_lowercase();
            let rest = s.strip_prefix("python").or_else(|| s.strip_prefix("pypy"));
            rest.is_some_and(|r| !r.is_empty() && r.chars().all(|c| c.is_ascii_digit() || c == '.'))
        };
        if is_versioned_python(part)
            && prev.is_some_and(|p| matches!(p.to_ascii_lowercase().as_str(), "lib" | "lib64"))
        {
            return true;
        }
        // Windows layout: C:\Python311\Lib\..., ...\Programs\Python\Python311\Lib\...,
        // conda's ...\Anaconda3\Lib\..., a venv's \Lib\. Windows installers spell it
        // `Lib`, so in a backslash path that spelling alone counts; any spelling counts
        // under a folder that looks like a Python install (paths are case-insensitive
        // there, and some tools lower-case them).
        if windows && part.eq_ignore_ascii_case("lib") {
            if *part == "Lib" {
                return true;
            }
            if prev.is_some_and(|p| {
                let p = p.to_ascii_lowercase();
                p.starts_with("python")
                    || p.starts_with("pypy")
                    || p.contains("conda")
                    || p.contains("forge")
                    || p.ends_with("venv")
            }) {
                return true;
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins() {
        assert!(is_builtin("~", 0));
        assert!(is_builtin("", 0));
        assert!(is_builtin("builtins", 0));
        assert!(!is_builtin("~", 3));
        assert!(!is_builtin("app.py", 0));
        assert!(!is_builtin("profile", 0));
        assert!(is_builtin("_sre", 0));
        assert!(is_builtin("os.path", 0));
        assert!(!is_builtin("_sre", 1));
        assert!(!is_builtin("x.py", 0));
        assert!(!is_builtin("<string>", 0));
        assert!(!is_builtin("/a/b", 0));
    }

    #[test]
    fn stdlib_paths() {
        for yes in [
            "/usr/lib/python3.11/json/decoder.py",
            "/usr/lib/python3/dist-packages/_distutils_hack/__init__.py",
            "/opt/conda/lib/python3.12/site-packages/numpy/core/numeric.py",
            "/usr/lib64/python3.9/re.py",
            "/Library/Frameworks/Python.framework/Versions/3.11/lib/python3.11/os.py",
            "/home/u/.venv/lib/pypy3.10/abc.py",
            r"C:\Program Files\Python311\Lib\json\decoder.py",
            r"C:\Users\dev\AppData\Local\Programs\Python\Python312\Lib\re\_parser.py",
            r"C:\proj\.venv\Lib\site-packages\requests\api.py",
            r"C:\proj\venv\Lib\abc.py",
            r"c:\program files\python311\lib\json\decoder.py",
            r"C:\ProgramData\Anaconda3\Lib\json\decoder.py",
            r"C:\hostedtoolcache\windows\Python\3.11.9\x64\Lib\os.py",
            "<frozen importlib._bootstrap>",
            "<frozen os>",
        ] {
            assert!(is_stdlib(yes), "{yes}");
        }
        for no in [
            "/home/dev/app/lib/util.py",
            "/home/dev/python-tools/lib/util.py",
            "/home/dev/app/python3/x.py",
            "/home/dev/site-packages.py",
            r"C:\Users\dev\proj\lib\util.py",
            "~",
            "",
            "<string>",
            "profile",
            "app.py",
        ] {
            assert!(!is_stdlib(no), "{no}");
        }
    }
}
