//! Development aid: print each node's kind id and name for a C snippet.
fn main() {
    let path = std::env::args().nth(1).expect("usage: kinds FILE");
    let src = std::fs::read(&path).expect("read");
    let mut p = tree_sitter::Parser::new();
    p.set_language(&tree_sitter_c::LANGUAGE.into()).unwrap();
    let t = p.parse(&src, None).unwrap();
    lockwarden_syntax::walk::preorder(t.root_node(), |n| {
        println!(
            "{} {} {:?}",
            n.kind_id(),
            n.kind(),
            lockwarden_syntax::generated::kind_name(n.kind_id())
        );
        true
    });
}
