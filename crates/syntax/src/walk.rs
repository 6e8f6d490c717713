//! Iterative tree walks: kernel macros nest deeply, so nothing here recurses.

use tree_sitter::{Node, TreeCursor};

/// Visits `root` and its descendants in pre-order. `visit` returns whether to
/// descend into the node's children.
pub fn preorder<'t>(root: Node<'t>, mut visit: impl FnMut(Node<'t>) -> bool) {
    let mut cursor: TreeCursor<'t> = root.walk();
    let mut descend = visit(cursor.node());
    loop {
        if descend && cursor.goto_first_child() {
            descend = visit(cursor.node());
            continue;
        }
        loop {
            if cursor.node() == root {
                return;
            }
            if cursor.goto_next_sibling() {
                descend = visit(cursor.node());
                break;
            }
            if !cursor.goto_parent() {
                return;
            }
        }
    }
}

/// Whether `root` or any node under it satisfies `pred` (pre-order, stops
/// at the first).
pub fn any<'t>(root: Node<'t>, mut pred: impl FnMut(Node<'t>) -> bool) -> bool {
    let mut found = false;
    preorder(root, |n| {
        found = found || pred(n);
        !found
    });
    found
}

/// Like [`preorder`], and `visit` also gets the node's ancestors, nearest
/// last (`Node::parent()` walks down from the root each time: quadratic
/// on a large file).
pub fn preorder_with_ancestors<'t>(
    root: Node<'t>,
    mut visit: impl FnMut(Node<'t>, &[Node<'t>]) -> bool,
) {
    let mut cursor: TreeCursor<'t> = root.walk();
    let mut ancestors: Vec<Node<'t>> = Vec::new();
    let mut descend = visit(cursor.node(), &ancestors);
    loop {
        let node = cursor.node();
        if descend && cursor.goto_first_child() {
            ancestors.push(node);
            descend = visit(cursor.node(), &ancestors);
            continue;
        }
        loop {
            if cursor.node() == root {
                return;
            }
            if cursor.goto_next_sibling() {
                descend = visit(cursor.node(), &ancestors);
                break;
            }
            if !cursor.goto_parent() {
                return;
            }
            ancestors.pop();
        }
    }
}

/// Counts `ERROR` and `MISSING` nodes under `root` (zero without walking when
/// the subtree has no error).
pub fn count_errors(root: Node<'_>) -> u32 {
    if !root.has_error() {
        return 0;
    }
    let mut count = 0;
    preorder(root, |node| {
        if node.is_error() || node.is_missing() {
            count += 1;
        }
        node.has_error()
    });
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preorder_visits_every_node_once_without_recursion() {
        // 20k nested parentheses would overflow a recursive walk's stack in debug builds.
        let depth = 20_000;
        let src = format!("int x = {}1{};", "(".repeat(depth), ")".repeat(depth));
        let mut parser = tree_sitter::Parser::new();
        parser
            .set_language(&tree_sitter_c::LANGUAGE.into())
            .unwrap();
        let tree = parser.parse(&src, None).unwrap();
        let mut count = 0usize;
        preorder(tree.root_node(), |_| {
            count += 1;
            true
        });
        assert_eq!(count, tree.root_node().descendant_count());
    }

    #[test]
    fn ancestors_are_the_parents_chain() {
        let src = "int f(void) { return g(a, b); }";
        let mut parser = tree_sitter::Parser::new();
        parser
            .set_language(&tree_sitter_c::LANGUAGE.into())
            .unwrap();
        let tree = parser.parse(src, None).unwrap();
        let mut checked = 0;
        preorder_with_ancestors(tree.root_node(), |node, ancestors| {
            assert_eq!(ancestors.last().copied(), node.parent());
            checked += 1;
            true
        });
        assert_eq!(checked, tree.root_node().descendant_count());
    }
}
