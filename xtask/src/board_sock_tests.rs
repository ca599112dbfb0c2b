//! nlcore's socket tests (`nlcore/tests/sock_*.rs`) and the tutorial examples they run,
//! built for a board's Rust target and carried in its image, where the
//! `nlcore-sockets` scenario runs them against the guest's real kernel. qemu-user
//! (`cargo xtask test cross`) refuses NETLINK_GENERIC and NETLINK_USERSOCK sockets, so
//! for other architectures than the host's this is where those tests run.

use crate::board::Board;
use crate::util::{cargo, fail, step, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The test binaries, by their target names in `nlcore/tests/`.
const SOCKET_TESTS: &[&str] = &[
    "sock_dump",
    "sock_examples",
    "sock_genl",
    "sock_route",
    "sock_usersock",
];

/// The examples `sock_examples` runs, found beside its `deps/` directory.
const EXAMPLES: &[&str] = &["tutorial_sendmsg", "tutorial_sendto"];

/// Where they go in the image: `deps/<test>` and `examples/<example>`, the layout of
/// cargo's profile directory that `sock_examples` expects.
pub const IMAGE_DIR: &str = "usr/libexec/nlcore-tests";

/// Builds the socket tests and examples for `board` in `target_dir`; returns each built
/// file with its path inside the image.
pub fn build(board: &Board, target_dir: &Path) -> Result<Vec<(PathBuf, PathBuf)>> {
    let mut files = Vec::new();
    step(
        &format!("nlcore socket tests for {}", board.rust_target),
        || {
            let common = |cmd: &mut Command| {
                cmd.args(["-p", "nlcore", "--features", "socket", "--target"])
                    .arg(&board.rust_target)
                    .arg("--target-dir")
                    .arg(target_dir)
                    .arg("--message-format=json");
            };
            let mut tests = cargo();
            tests.args(["test", "--no-run"]);
            for t in SOCKET_TESTS {
                tests.args(["--test", t]);
            }
            common(&mut tests);
            let built = executables(&mut tests)?;
            for t in SOCKET_TESTS {
                files.push((pick(&built, t)?, Path::new(IMAGE_DIR).join("deps").join(t)));
            }
            let mut examples = cargo();
            examples.arg("build");
            for e in EXAMPLES {
                examples.args(["--example", e]);
            }
            common(&mut examples);
            let built = executables(&mut examples)?;
            for e in EXAMPLES {
                files.push((
                    pick(&built, e)?,
                    Path::new(IMAGE_DIR).join("examples").join(e),
                ));
            }
            Ok(())
        },
    )?;
    Ok(files)
}

/// Installs `from` at `to` without debug info and symbols (a debug test binary is 85 %
/// DWARF, and every scenario's boot unpacks the image into the guest's RAM; panic messages
/// keep their file and line, which live in the data, not in the symbols).
pub fn install_stripped(board: &Board, from: &Path, to: &Path) -> Result {
    if let Some(dir) = to.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let strip = format!("{}strip", board.cross_compile);
    let status = Command::new(&strip)
        .arg("--strip-all")
        .arg("-o")
        .arg(to)
        .arg(from)
        .status()
        .map_err(|e| fail(format!("run {strip}: {e}")))?;
    if !status.success() {
        return Err(fail(format!(
            "{strip} {} exited with {status}",
            from.display()
        )));
    }
    Ok(())
}

/// Runs a cargo command with `--message-format=json` and returns the `executable` of
/// every compiler artifact it reports.
fn executables(cmd: &mut Command) -> Result<Vec<PathBuf>> {
    let out = cmd.stderr(std::process::Stdio::inherit()).output()?;
    if !out.status.success() {
        return Err(fail(format!("cargo exited with {}", out.status)));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(text
        .lines()
        .filter(|l| l.contains(r#""reason":"compiler-artifact""#))
        .filter_map(|l| json_string_field(l, "executable"))
        .map(PathBuf::from)
        .collect())
}

/// The string value of `"field":"..."` in one line of cargo's JSON (paths here carry no
/// quotes or escapes; a value with a backslash is refused rather than misread).
fn json_string_field(line: &str, field: &str) -> Option<String> {
    let start = line.find(&format!(r#""{field}":""#))? + field.len() + 4;
    let value = &line[start..start + line[start..].find('"')?];
    (!value.contains('\\')).then(|| value.to_string())
}

/// The built file of target `name`: `name-<hash>` for a test, `name` for an example.
fn pick(built: &[PathBuf], name: &str) -> Result<PathBuf> {
    built
        .iter()
        .find(|p| {
            p.file_name()
                .and_then(|f| f.to_str())
                .and_then(|f| f.split('-').next())
                == Some(name)
        })
        .cloned()
        .ok_or_else(|| fail(format!("cargo reported no executable for {name}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn executable_is_read_from_a_cargo_json_line() {
        let line = r#"{"reason":"compiler-artifact","target":{"name":"sock_dump"},"executable":"/t/debug/deps/sock_dump-0a1b","fresh":true}"#;
        assert_eq!(
            json_string_field(line, "executable").as_deref(),
            Some("/t/debug/deps/sock_dump-0a1b")
        );
        assert_eq!(
            json_string_field(r#"{"executable":null}"#, "executable"),
            None
        );
    }

    #[test]
    fn test_and_example_files_are_picked_by_target_name() {
        let built = [
            PathBuf::from("/t/deps/sock_genl-12ab"),
            PathBuf::from("/t/deps/sock_genl_extra-34cd"),
            PathBuf::from("/t/examples/tutorial_sendto"),
        ];
        assert_eq!(pick(&built, "sock_genl").unwrap(), built[0]);
        assert_eq!(pick(&built, "tutorial_sendto").unwrap(), built[2]);
        assert!(pick(&built, "sock_dump").is_err());
    }
}
