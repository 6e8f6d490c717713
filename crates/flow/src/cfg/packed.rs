//! Lowered graphs and sources at rest. Every function of a tree is lowered
//! before any is solved (callees first needs the whole call graph), and the
//! graphs of a kernel in their working form would not fit in memory:
//! between lowering and solving, and for the rules that read a function's
//! operations again, a graph is kept serialised (postcard) and compressed
//! (LZ4), and unpacked while it is worked on. A file's source is kept
//! compressed too, for the findings that quote it.

use super::Cfg;

/// A [`Cfg`], serialised and compressed.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct PackedCfg(PackedBytes);

impl PackedCfg {
    pub fn pack(cfg: &Cfg) -> PackedCfg {
        // Serialising plain data into a growable buffer cannot fail.
        let bytes = postcard::to_allocvec(cfg).expect("a graph serialises");
        PackedCfg(PackedBytes::pack(&bytes))
    }

    /// The graph, as it was packed.
    pub fn unpack(&self) -> Cfg {
        // The bytes were written by `pack`, in this process or, through the
        // cache, by this same build (the cache's generation stamp includes
        // it, and a checksum guards each entry).
        postcard::from_bytes(&self.0.unpack()).expect("a packed graph")
    }
}

/// Bytes kept LZ4-compressed (a source file, for the findings in it).
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct PackedBytes(Box<[u8]>);

impl PackedBytes {
    pub fn pack(bytes: &[u8]) -> PackedBytes {
        PackedBytes(lz4_flex::compress_prepend_size(bytes).into_boxed_slice())
    }

    pub fn unpack(&self) -> Vec<u8> {
        // The bytes were written by `pack` in this process.
        lz4_flex::decompress_size_prepended(&self.0).expect("packed bytes")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn bytes_unpack_as_they_were() {
        let text = b"static DEFINE_SPINLOCK(lock);\n\nvoid f(void)\n{\n\tspin_lock(&lock);\n}\n"
            .repeat(40);
        let packed = super::PackedBytes::pack(&text);
        assert!(packed.0.len() < text.len() / 4);
        assert_eq!(packed.unpack(), text);
        assert!(super::PackedBytes::pack(b"").unpack().is_empty());
    }

    use crate::analysis::test_support::analyze_text;

    #[test]
    fn a_graph_unpacks_as_it_was_lowered() {
        let a = analyze_text(
            "int f(struct foo *f, int a)\n{\n\tspin_lock(&f->lock);\n\tif (a)\n\t\treturn -EINVAL;\n\tspin_unlock(&f->lock);\n\treturn 0;\n}\n",
        );
        let cfg = a.program.functions[0].cfg();
        assert!(cfg.ops.len() > 3, "{cfg:?}");
        let again = super::PackedCfg::pack(&cfg).unpack();
        // Maps compare as maps: their Debug order is the hasher's.
        assert_eq!(format!("{:?}", cfg.ops), format!("{:?}", again.ops));
        assert_eq!(format!("{:?}", cfg.succs), format!("{:?}", again.succs));
        assert_eq!(cfg.locals, again.locals);
        assert_eq!(cfg.local_types, again.local_types);
        assert_eq!((cfg.entry, cfg.exit), (again.entry, again.exit));
    }
}
