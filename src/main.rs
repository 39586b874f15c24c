//! `profdiff` binary entry point.

fn main() {
    println!("profdiff");
}
