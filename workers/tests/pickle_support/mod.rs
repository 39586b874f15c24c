//! Test-only pickle writer: emits protocols 0–5 the way CPython's pickler does for the
//! values a pstats dump holds (memoizing strings and containers, `Shared` values
//! written once and referenced by memo GET afterwards), plus pickled `pstats.Stats`
//! objects in the shapes each protocol uses. Hostile tests add raw opcodes with `raw`.
#![allow(dead_code)]

use std::collections::HashMap;
use std::rc::Rc;

/// A Python value to pickle.
#[derive(Debug, Clone)]
pub enum Py {
    /// `None`.
    None,
    /// `True` / `False`.
    Bool(bool),
    /// An int (i128 so that values beyond 64 bits can be written too).
    Int(i128),
    /// A float.
    Float(f64),
    /// A str.
    Str(String),
    /// A tuple.
    Tuple(Vec<Py>),
    /// A list.
    List(Vec<Py>),
    /// A dict in insertion order.
    Dict(Vec<(Py, Py)>),
    /// A set.
    Set(Vec<Py>),
    /// The same object reached from several places: written once, then memo GET.
    Shared(Rc<Py>),
    /// A `pstats.Stats` object with this state dict.
    StatsObject(Box<Py>),
    /// Raw opcodes pushing one value (for hostile tests).
    Raw(Vec<u8>),
}

/// Pickles `value` at `protocol` (0–5).
pub fn dumps(value: &Py, protocol: u8) -> Vec<u8> {
    let mut w = Writer {
        out: Vec::new(),
        proto: protocol,
        memo: HashMap::new(),
        next: 0,
    };
    w.save(value);
    w.out.push(b'.');
    if protocol < 2 {
        return w.out;
    }
    let mut out = vec![0x80, protocol];
    if protocol >= 4 && w.out.len() >= 4 {
        // CPython frames protocol 4+ output; one frame for the whole body is valid.
        out.push(0x95);
        out.extend_from_slice(&((w.out.len() - 1) as u64).to_le_bytes());
    }
    out.extend_from_slice(&w.out);
    out
}

struct Writer {
    out: Vec<u8>,
    proto: u8,
    memo: HashMap<*const Py, u32>,
    next: u32,
}

impl Writer {
    fn put(&mut self) -> u32 {
        let slot = self.next;
        self.next += 1;
        if self.proto >= 4 {
            self.out.push(0x94);
        } else if self.proto == 0 {
            self.out.extend_from_slice(format!("p{slot}\n").as_bytes());
        } else if slot < 256 {
            self.out.extend_from_slice(&[b'q', slot as u8]);
        } else {
            self.out.push(b'r');
            self.out.extend_from_slice(&slot.to_le_bytes());
        }
        slot
    }

    fn get(&mut self, slot: u32) {
        if self.proto == 0 {
            self.out.extend_from_slice(format!("g{slot}\n").as_bytes());
        } else if slot < 256 {
            self.out.extend_from_slice(&[b'h', slot as u8]);
        } else {
            self.out.push(b'j');
            self.out.extend_from_slice(&slot.to_le_bytes());
        }
    }

    fn global(&mut self, module: &str, name: &str) {
        if self.proto >= 4 {
            self.save_str(module);
            self.save_str(name);
            self.out.push(0x93);
            self.put();
        } else {
            let module = match (self.proto, module) {
                (0..=2, "builtins") => "__builtin__",
                (0..=2, "copyreg") => "copy_reg",
                _ => module,
            };
            self.out
                .extend_from_slice(format!("c{module}\n{name}\n").as_bytes());
            self.put();
        }
    }

    /// Writes `v`; returns the memo slot it was stored in, if any.
    fn save(&mut self, v: &Py) -> Option<u32> {
        let mut slot = None;
        match v {
            Py::None => self.out.push(b'N'),
            Py::Bool(b) => {
                if self.proto >= 2 {
                    self.out.push(if *b { 0x88 } else { 0x89 });
                } else {
                    self.out
                        .extend_from_slice(if *b { b"I01\n" } else { b"I00\n" });
                }
            }
            Py::Int(i) => self.save_int(*i),
            Py::Float(f) => {
                if self.proto == 0 {
                    self.out
                        .extend_from_slice(format!("F{}\n", py_repr(*f)).as_bytes());
                } else {
                    self.out.push(b'G');
                    self.out.extend_from_slice(&f.to_be_bytes());
                }
            }
            Py::Str(s) => slot = Some(self.save_str(s)),
            Py::Tuple(items) => slot = self.save_tuple(items),
            Py::List(items) => {
                if self.proto == 0 {
                    self.out.extend_from_slice(b"(l");
                    slot = Some(self.put());
                    for it in items {
                        self.save(it);
                        self.out.push(b'a');
                    }
                } else {
                    self.out.push(b']');
                    slot = Some(self.put());
                    self.batched(items.len(), b'e', |w, i| {
                        w.save(&items[i]);
                    });
                }
            }
            Py::Dict(entries) => {
                if self.proto == 0 {
                    self.out.extend_from_slice(b"(d");
                    slot = Some(self.put());
                    for (k, v) in entries {
                        self.save(k);
                        self.save(v);
                        self.out.push(b's');
                    }
                } else {
                    self.out.push(b'}');
                    slot = Some(self.put());
                    self.batched_dict(entries);
                }
            }
            Py::Set(items) => {
                if self.proto >= 4 {
                    self.out.push(0x8f);
                    slot = Some(self.put());
                    if !items.is_empty() {
                        self.out.push(b'(');
                        for it in items {
                            self.save(it);
                        }
                        self.out.push(0x90);
                    }
                } else {
                    // set([items]) through REDUCE, as protocols below 4 write it.
                    self.global("builtins", "set");
                    self.save_tuple(&[Py::List(items.clone())]);
                    self.out.push(b'R');
                    slot = Some(self.put());
                }
            }
            Py::Shared(rc) => {
                let ptr = Rc::as_ptr(rc);
                if let Some(&s) = self.memo.get(&ptr) {
                    self.get(s);
                    slot = Some(s);
                } else {
                    slot = self.save(rc);
                    if let Some(s) = slot {
                        self.memo.insert(ptr, s);
                    }
                }
            }
            Py::StatsObject(state) => {
                if self.proto < 2 {
                    self.global("copyreg", "_reconstructor");
                    self.out.push(b'(');
                    self.global("pstats", "Stats");
                    self.global("builtins", "object");
                    self.out.extend_from_slice(b"Nt");
                    self.put();
                    self.out.push(b'R');
                    self.put();
                } else {
                    self.global("pstats", "Stats");
                    self.out.extend_from_slice(b")\x81");
                    self.put();
                }
                self.save(state);
                self.out.push(b'b');
            }
            Py::Raw(bytes) => self.out.extend_from_slice(bytes),
        }
        slot
    }

    fn save_int(&mut self, i: i128) {
        if self.proto >= 1 {
            if (0..256).contains(&i) {
                self.out.extend_from_slice(&[b'K', i as u8]);
                return;
            }
            if (0..65536).contains(&i) {
                self.out.push(b'M');
                self.out.extend_from_slice(&(i as u16).to_le_bytes());
                return;
            }
            if i32::try_from(i).is_ok() {
                self.out.push(b'J');
                self.out.extend_from_slice(&(i as i32).to_le_bytes());
                return;
            }
        }
        if self.proto >= 2 {
            // Minimal little-endian two's complement, as CPython's encode_long.
            let full = i.to_le_bytes();
            let mut n = 16;
            while n > 1 {
                let top = full[n - 1];
                let next_sign = full[n - 2] & 0x80 != 0;
                if (top == 0 && !next_sign) || (top == 0xff && next_sign) {
                    n -= 1;
                } else {
                    break;
                }
            }
            self.out.extend_from_slice(&[0x8a, n as u8]);
            self.out.extend_from_slice(&full[..n]);
        } else if i32::try_from(i).is_ok() {
            self.out.extend_from_slice(format!("I{i}\n").as_bytes());
        } else {
            self.out.extend_from_slice(format!("L{i}L\n").as_bytes());
        }
    }

    fn save_str(&mut self, s: &str) -> u32 {
        let b = s.as_bytes();
        if self.proto == 0 {
            let mut esc = Vec::new();
            for c in s.chars() {
                match c {
                    '\\' | '\0' | '\n' | '\r' | '\u{1a}' => {
                        esc.extend_from_slice(format!("\\u{:04x}", c as u32).as_bytes())
                    }
                    c if (c as u32) < 256 => esc.push(c as u32 as u8),
                    c if (c as u32) < 0x10000 => {
                        esc.extend_from_slice(format!("\\u{:04x}", c as u32).as_bytes())
                    }
                    c => esc.extend_from_slice(format!("\\U{:08x}", c as u32).as_bytes()),
                }
            }
            self.out.push(b'V');
            self.out.extend_from_slice(&esc);
            self.out.push(b'\n');
        } else if self.proto >= 4 && b.len() < 256 {
            self.out.extend_from_slice(&[0x8c, b.len() as u8]);
            self.out.extend_from_slice(b);
        } else {
            self.out.push(b'X');
            self.out.extend_from_slice(&(b.len() as u32).to_le_bytes());
            self.out.extend_from_slice(b);
        }
        self.put()
    }

    fn save_tuple(&mut self, items: &[Py]) -> Option<u32> {
        if items.is_empty() {
            // CPython does not memoize the empty tuple.
            self.out
                .extend_from_slice(if self.proto >= 1 { b")" } else { b"(t" });
            return None;
        }
        if self.proto >= 2 && items.len() <= 3 {
            for it in items {
                self.save(it);
            }
            self.out.push(0x84 + items.len() as u8);
        } else {
            self.out.push(b'(');
            for it in items {
                self.save(it);
            }
            self.out.push(b't');
        }
        Some(self.put())
    }

    fn batched(&mut self, n: usize, op: u8, mut each: impl FnMut(&mut Self, usize)) {
        let mut i = 0;
        while i < n {
            let end = (i + 1000).min(n);
            if end - i == 1 {
                each(self, i);
                self.out.push(if op == b'e' { b'a' } else { b's' });
            } else {
                self.out.push(b'(');
                for j in i..end {
                    each(self, j);
                }
                self.out.push(op);
            }
            i = end;
        }
    }

    fn batched_dict(&mut self, entries: &[(Py, Py)]) {
        self.batched(entries.len(), b'u', |w, i| {
            w.save(&entries[i].0);
            w.save(&entries[i].1);
        });
    }
}

/// Python's float repr (shortest round-trip), as protocol 0 writes it.
fn py_repr(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf".into() } else { "-inf".into() };
    }
    format!("{f:?}")
}

/// One stats entry for [`stats_dict`].
#[derive(Debug, Clone)]
pub struct Entry {
    /// `(file, line, name)`.
    pub key: (String, i64, String),
    /// `(cc, nc, tt, ct)`.
    pub stats: (i64, i64, f64, f64),
    /// Caller key and value.
    pub callers: Vec<((String, i64, String), CallerVal)>,
}

/// A caller value.
#[derive(Debug, Clone, Copy)]
pub enum CallerVal {
    /// `(nc, cc, tt, ct)`.
    Timed(i64, i64, f64, f64),
    /// A bare count.
    Count(i64),
}

/// Builds the Python value of a stats dict; file names are shared objects (as the
/// interned strings of a real dump are), so memo GETs appear in every protocol.
pub fn stats_dict(entries: &[Entry]) -> Py {
    let mut files: HashMap<String, Rc<Py>> = HashMap::new();
    let mut file = |f: &str| -> Py {
        Py::Shared(
            files
                .entry(f.to_owned())
                .or_insert_with(|| Rc::new(Py::Str(f.to_owned())))
                .clone(),
        )
    };
    let mut key = |k: &(String, i64, String)| {
        Py::Tuple(vec![file(&k.0), Py::Int(k.1.into()), Py::Str(k.2.clone())])
    };
    let mut out = Vec::new();
    for e in entries {
        let callers = e
            .callers
            .iter()
            .map(|(ck, cv)| {
                let v = match *cv {
                    CallerVal::Timed(nc, cc, tt, ct) => Py::Tuple(vec![
                        Py::Int(nc.into()),
                        Py::Int(cc.into()),
                        Py::Float(tt),
                        Py::Float(ct),
                    ]),
                    CallerVal::Count(n) => Py::Int(n.into()),
                };
                (key(ck), v)
            })
            .collect();
        let (cc, nc, tt, ct) = e.stats;
        out.push((
            key(&e.key),
            Py::Tuple(vec![
                Py::Int(cc.into()),
                Py::Int(nc.into()),
                Py::Float(tt),
                Py::Float(ct),
                Py::Dict(callers),
            ]),
        ));
    }
    Py::Dict(out)
}

/// Wraps a stats dict in a `pstats.Stats` object's state, with the other attributes
/// CPython pickles (which the decoder must ignore).
pub fn stats_object(stats: Py) -> Py {
    let s = |x: &str| Py::Str(x.to_owned());
    Py::StatsObject(Box::new(Py::Dict(vec![
        (s("stream"), Py::None),
        (s("all_callees"), Py::None),
        (s("files"), Py::List(vec![s("/home/dev/x.prof")])),
        (s("fcn_list"), Py::None),
        (s("total_tt"), Py::Float(1.5)),
        (s("total_calls"), Py::Int(7)),
        (s("prim_calls"), Py::Int(7)),
        (s("max_name_len"), Py::Int(12)),
        (
            s("top_level"),
            Py::Set(vec![Py::Tuple(vec![s("~"), Py::Int(0), s("<module>")])]),
        ),
        (s("stats"), stats),
        (s("sort_arg_dict"), Py::Dict(vec![])),
    ])))
}
