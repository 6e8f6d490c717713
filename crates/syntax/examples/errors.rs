//! Development aid: print each parse error of a file after the idiom pass, with its line.
fn main() {
    let path = std::env::args().nth(1).expect("usage: errors FILE");
    let text = std::fs::read_to_string("rules/syntax.toml").expect("run from the workspace root");
    #[derive(serde::Deserialize)]
    struct F {
        syntax: lockwarden_syntax::MacroConfig,
    }
    let f: F = toml::from_str(&text).unwrap();
    let macros = f.syntax.compile();
    let src = std::fs::read(&path).expect("read");
    let file = lockwarden_syntax::ParsedFile::parse(src, &macros).unwrap();
    lockwarden_syntax::walk::preorder(file.tree.root_node(), |n| {
        if n.is_error() || n.is_missing() {
            let (line, col) = file.line_col(n.start_byte() as u32);
            let lines: Vec<&str> = std::str::from_utf8(&file.text)
                .unwrap_or("")
                .lines()
                .collect();
            println!(
                "{path}:{line}:{col}: {} | {}",
                if n.is_missing() { "MISSING" } else { "ERROR" },
                lines.get(line as usize - 1).unwrap_or(&"").trim()
            );
            return false;
        }
        n.has_error()
    });
}
