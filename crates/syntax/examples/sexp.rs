//! Development aid: print the tree-sitter S-expression of a C file as parsed raw.
fn main() {
    let path = std::env::args().nth(1).expect("usage: sexp FILE");
    let src = std::fs::read(&path).expect("read");
    let mut p = tree_sitter::Parser::new();
    p.set_language(&tree_sitter_c::LANGUAGE.into()).unwrap();
    let t = p.parse(&src, None).unwrap();
    println!("{}", t.root_node().to_sexp());
}
