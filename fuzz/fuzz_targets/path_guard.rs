//! The path guard: `open_beneath` of any relative path below a root that
//! holds links leading out never opens a file outside the root.
#![no_main]

#[allow(dead_code)]
#[path = "../../src/servers/beneath.rs"]
mod beneath;

use libfuzzer_sys::fuzz_target;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// A root with a file, a subdirectory and links leading out, beside a
/// secret outside it.
fn root() -> &'static Path {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        let base = std::env::temp_dir().join(format!("mcp-fuzz-beneath-{}", std::process::id()));
        let root = base.join("root");
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::create_dir_all(base.join("outside")).unwrap();
        std::fs::write(base.join("outside/secret"), "SECRET").unwrap();
        std::fs::write(base.join("secret"), "SECRET").unwrap();
        std::fs::write(root.join("inside"), "inside").unwrap();
        std::fs::write(root.join("sub/inside"), "inside").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::symlink;
            let _ = symlink("../outside", root.join("out"));
            let _ = symlink("../secret", root.join("secret"));
            let _ = symlink(base.join("secret"), root.join("sub/abs"));
            let _ = symlink("../../secret", root.join("sub/up"));
            let _ = symlink("inside", root.join("sub/here"));
        }
        root
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(rel) = std::str::from_utf8(data) else {
        return;
    };
    if rel.contains('\0') {
        return;
    }
    if let Ok(mut file) = beneath::open_beneath(root(), Path::new(rel)) {
        let mut text = String::new();
        let _ = file.read_to_string(&mut text);
        assert_ne!(text, "SECRET", "{rel:?} opened a file outside the root");
    }
});
