//! Lessons ship inside the playground's wasm: this script writes each `scenarios/*.json` to OUT_DIR without the
//! whitespace between tokens (the page never shows a lesson's file text, and every byte is downloaded), and its
//! top-level `"title"` beside it, so the page can list the library without parsing 60-odd scenarios at startup.
//! No dependencies: a scenario file is JSON, and this only needs its tokens' boundaries.

use std::fs;
use std::path::Path;

fn main() {
    println!("cargo:rerun-if-changed=scenarios");
    println!("cargo:rerun-if-changed=build.rs");
    let out = Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("scenarios");
    fs::create_dir_all(&out).expect("OUT_DIR is writable");
    let mut names: Vec<_> = fs::read_dir("scenarios")
        .expect("scenarios/ exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    names.sort();
    for path in names {
        println!("cargo:rerun-if-changed={}", path.display());
        let text = fs::read_to_string(&path).expect("scenario files are UTF-8");
        let (min, title) = minify(&text);
        let stem = path.file_stem().expect("a file name").to_string_lossy().into_owned();
        write_if_changed(&out.join(format!("{stem}.json")), &min);
        write_if_changed(&out.join(format!("{stem}.title")), &title.unwrap_or(stem.clone()));
    }
}

fn write_if_changed(path: &Path, text: &str) {
    if fs::read_to_string(path).ok().as_deref() != Some(text) {
        fs::write(path, text).expect("OUT_DIR is writable");
    }
}

/// The text without whitespace outside strings, and the decoded value of the top-level `"title"` if it is a string.
/// Malformed JSON passes through (the library's tests parse every lesson and report it with a path).
fn minify(text: &str) -> (String, Option<String>) {
    let mut out = String::with_capacity(text.len());
    let (mut depth, mut title, mut last_key, mut want_title) = (0i32, None, None::<String>, false);
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\n' | '\r' | '\t' => {}
            '"' => {
                let (raw, decoded) = string(&mut chars);
                out.push('"');
                out.push_str(&raw);
                out.push('"');
                if want_title {
                    title = Some(decoded);
                    want_title = false;
                } else {
                    last_key = (depth == 1).then_some(decoded);
                }
            }
            ':' => {
                want_title = depth == 1 && last_key.as_deref() == Some("title");
                last_key = None;
                out.push(c);
            }
            _ => {
                match c {
                    '{' | '[' => depth += 1,
                    '}' | ']' => depth -= 1,
                    _ => {}
                }
                want_title = false;
                last_key = None;
                out.push(c);
            }
        }
    }
    (out, title)
}

/// Reads a string's body after its opening quote: the raw text (escapes kept) and its decoded value.
fn string(chars: &mut std::str::Chars) -> (String, String) {
    let (mut raw, mut decoded) = (String::new(), String::new());
    while let Some(c) = chars.next() {
        match c {
            '"' => break,
            '\\' => {
                raw.push(c);
                let Some(e) = chars.next() else { break };
                raw.push(e);
                match e {
                    'n' => decoded.push('\n'),
                    't' => decoded.push('\t'),
                    'r' => decoded.push('\r'),
                    'b' => decoded.push('\u{8}'),
                    'f' => decoded.push('\u{c}'),
                    'u' => {
                        let hex: String = chars.by_ref().take(4).collect();
                        raw.push_str(&hex);
                        let unit = u32::from_str_radix(&hex, 16).unwrap_or(0xfffd);
                        decoded.push(char::from_u32(unit).unwrap_or('\u{fffd}'));
                    }
                    other => decoded.push(other),
                }
            }
            _ => {
                raw.push(c);
                decoded.push(c);
            }
        }
    }
    (raw, decoded)
}
