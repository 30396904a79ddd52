//! Share links: the whole state of a run (scenario, seed, the person's commands, the moment on screen) in the URL
//! fragment, as base64url-encoded JSON: `#run=<base64url>`; or a library scenario by name: `#lesson=<name>`
//! (`#lesson=<name>&view=compare` opens it in the comparison view). The JSON's optional `"view": "compare"` reopens
//! the "Compare log methods" view; links without it (all older links) open the cluster view. With it, `"panes"`
//! may hold, per log method, the faults a person caused in that method's pane only (`{"trigger": [commands]}`).
//! Decoding never panics: a damaged link gives a message the person can act on.

use serde_json::{json, Value};

use crate::scenario::{check_added_nodes, Command, LogKind, Scenario, TimedCommand};
use crate::world::time::Micros;

#[derive(Clone, Debug, PartialEq)]
pub struct LinkState {
    pub scenario: Scenario,
    pub seed: u64,
    pub commands: Vec<TimedCommand>,
    pub at: Micros,
    /// The comparison view's panes: commands given to one log method's pane only (crash, restart, cut, heal).
    pub panes: Vec<(LogKind, Vec<TimedCommand>)>,
}

/// Which view a link opens.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum View {
    /// One cluster (the scenario's own log method).
    #[default]
    Cluster,
    /// The same run under each of the four log methods, side by side.
    Compare,
    /// The collaborative editing view (DDIA 5.3): the run stays behind it, paused.
    Collab,
}

impl View {
    pub fn name(self) -> &'static str {
        match self {
            View::Cluster => "cluster",
            View::Compare => "compare",
            View::Collab => "collab",
        }
    }

    pub fn from_name(name: &str) -> Option<View> {
        [View::Cluster, View::Compare, View::Collab].into_iter().find(|v| v.name() == name)
    }
}

/// Longest fragment we accept (a hostile link should not make the page parse megabytes).
pub const MAX_FRAGMENT: usize = 2_000_000;

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

pub fn base64url_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for i in 0..chars {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

pub fn base64url_decode(text: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for (i, c) in text.trim_end_matches('=').bytes().enumerate() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            _ => return Err(format!("character {i} ({:?}) is not part of a share link", c as char)),
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Ok(out)
}

impl LinkState {
    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "v": 1,
            "scenario": self.scenario.to_json(),
            "seed": self.seed,
            "commands": self.commands.iter().map(TimedCommand::to_json).collect::<Vec<_>>(),
            "at_us": self.at,
        });
        // Inserted one by one: collecting into the map would sort (one more sort instance in the wasm).
        let mut panes = serde_json::Map::new();
        for (log, c) in self.panes.iter().filter(|(_, c)| !c.is_empty()) {
            panes.insert(log.name().to_string(), Value::Array(c.iter().map(TimedCommand::to_json).collect()));
        }
        if !panes.is_empty() {
            v["panes"] = Value::Object(panes);
        }
        v
    }

    pub fn encode(&self) -> String {
        self.encode_view(View::Cluster)
    }

    /// Encode with the view to reopen (the cluster view writes nothing: such links are exactly the older ones).
    pub fn encode_view(&self, view: View) -> String {
        let mut v = self.to_json();
        if view != View::Cluster {
            v["view"] = json!(view.name());
        }
        format!("run={}", base64url_encode(v.to_string().as_bytes()))
    }

    /// Decode the part of a URL after `#` (with or without the `#`).
    pub fn decode(fragment: &str) -> Result<LinkState, String> {
        Self::decode_view(fragment).map(|(ls, _)| ls)
    }

    /// Decode a link and the view it asks for.
    pub fn decode_view(fragment: &str) -> Result<(LinkState, View), String> {
        let fragment = fragment.trim_start_matches('#');
        if fragment.len() > MAX_FRAGMENT {
            return Err("this link is too long to be a playground link".into());
        }
        let Some(payload) = fragment.strip_prefix("run=") else {
            return Err("this link does not hold a playground run (expected #run=…)".into());
        };
        let bytes = base64url_decode(payload).map_err(|e| format!("this link is damaged: {e}"))?;
        let text =
            String::from_utf8(bytes).map_err(|_| "this link is damaged: it does not decode to text".to_string())?;
        let v: Value =
            serde_json::from_str(&text).map_err(|e| format!("this link is damaged (cut off when copied?): {e}"))?;
        if v.get("v").and_then(Value::as_u64) != Some(1) {
            return Err("this link was made by another version of the playground".into());
        }
        let scenario = Scenario::from_value(v.get("scenario").unwrap_or(&Value::Null))
            .map_err(|e| format!("the scenario in this link is invalid: {e}"))?;
        let seed = v.get("seed").and_then(Value::as_u64).ok_or("the link has no valid seed")?;
        let mut commands = Vec::new();
        if let Some(list) = v.get("commands").and_then(Value::as_array) {
            let names = scenario.names_with(list);
            for (i, c) in list.iter().enumerate() {
                commands.push(
                    TimedCommand::from_value(c, &format!("commands[{i}]"), &names)
                        .map_err(|e| format!("a command in this link is invalid: {e}"))?,
                );
            }
        }
        // The scenario's own add_node commands passed its validation; the person's count with them.
        let own = scenario.workload.iter().chain(&scenario.faults).map(|c| (String::from("scenario"), c));
        let theirs = commands.iter().enumerate().map(|(i, c)| (format!("commands[{i}]"), c));
        check_added_nodes(&scenario.nodes, own.chain(theirs))
            .map_err(|e| format!("a command in this link is invalid: {e}"))?;
        let at = v.get("at_us").and_then(Value::as_u64).unwrap_or(0).min(scenario.until());
        let view = match v.get("view") {
            None => View::Cluster,
            Some(name) => name
                .as_str()
                .and_then(View::from_name)
                .ok_or_else(|| format!("this link asks for a view this playground does not have ({name})"))?,
        };
        let mut panes = Vec::new();
        if let Some(p) = v.get("panes") {
            let p = p.as_object().ok_or("the link's panes are not an object of log methods")?;
            if let Some(name) = p.keys().find(|k| !crate::compare::METHODS.iter().any(|m| m.name() == k.as_str())) {
                return Err(format!("the link names a pane for an unknown log method ({name})"));
            }
            // In the methods' order; names as the pane's own run knows them (the trigger pane has the replicator).
            for log in crate::compare::METHODS {
                let Some(list) = p.get(log.name()) else { continue };
                let name = log.name();
                let list = list.as_array().ok_or_else(|| format!("panes.{name} is not a list of commands"))?;
                let mut all = v.get("commands").and_then(Value::as_array).cloned().unwrap_or_default();
                all.extend(list.iter().cloned());
                let names = scenario.with_log(log).names_with(&all);
                let mut cmds = Vec::new();
                for (i, c) in list.iter().enumerate() {
                    let path = format!("panes.{name}[{i}]");
                    let cmd = TimedCommand::from_value(c, &path, &names)
                        .map_err(|e| format!("a command in this link is invalid: {e}"))?;
                    if !matches!(
                        cmd.command,
                        Command::Crash(_) | Command::Restart(_) | Command::CutLink(..) | Command::HealLink(..)
                    ) {
                        return Err(format!("{path}: a pane of its own may only crash, restart, cut or heal"));
                    }
                    cmds.push(cmd);
                }
                panes.push((log, cmds));
            }
        }
        Ok((LinkState { scenario, seed, commands, at, panes }, view))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64url_round_trips_every_length() {
        for n in 0..40u8 {
            let bytes: Vec<u8> = (0..n).map(|i| i.wrapping_mul(37).wrapping_add(n)).collect();
            assert_eq!(base64url_decode(&base64url_encode(&bytes)).unwrap(), bytes);
        }
    }

    #[test]
    fn damaged_links_give_messages() {
        assert!(LinkState::decode("#run=%%%").unwrap_err().contains("damaged"));
        assert!(LinkState::decode("#run=e30").unwrap_err().contains("another version"));
        assert!(LinkState::decode("#nothing").unwrap_err().contains("expected #run="));
        let truncated = &LinkState::decode("#run=eyJ2IjoxLCJzY2Vu").unwrap_err();
        assert!(truncated.contains("damaged"), "{truncated}");
    }

    fn link_with(commands: Vec<TimedCommand>) -> LinkState {
        LinkState { scenario: crate::library::default_scenario(), seed: 3, commands, at: 1, panes: Vec::new() }
    }

    fn sql(text: String) -> TimedCommand {
        TimedCommand { at: 1, command: crate::scenario::Command::Sql { client: "alice".into(), sql: text } }
    }

    /// The playground's SQL input refuses what `check_statement` refuses; everything it lets through must make a
    /// link that opens again (a link the decoder rejects loses the person's run).
    #[test]
    fn the_longest_statement_a_person_can_send_round_trips() {
        use crate::scenario::{check_statement, MAX_STATEMENT_LEN};
        let max = MAX_STATEMENT_LEN;
        let prefix = "INSERT INTO users (name) VALUES ('";
        let ascii = format!("{prefix}{}')", "x".repeat(max - prefix.len() - 2));
        // Two-byte characters, and characters JSON escapes (quotes, backslashes, control characters).
        let wide = "é".repeat(max / 2);
        let escaped = "'\\\"\u{1}".repeat(max / 4);
        for text in [ascii, wide, escaped] {
            assert_eq!(text.len(), max);
            assert_eq!(check_statement(&text), Ok(()));
            let ls = link_with(vec![sql(text.clone()), sql(text)]);
            assert_eq!(LinkState::decode(&ls.encode()).expect("the link opens"), ls);
        }
        // One byte more: the input refuses it, as the decoder would.
        let over = "x".repeat(max + 1);
        assert!(check_statement(&over).unwrap_err().contains(&max.to_string()));
        let e = LinkState::decode(&link_with(vec![sql(over)]).encode()).unwrap_err();
        assert!(e.contains("commands[0].sql: statement longer than 10000 bytes"), "{e}");
    }

    #[test]
    fn nodes_added_by_a_links_commands_count_against_the_bound() {
        use crate::scenario::{Command, CopyMethod, MAX_NODES};
        let add = |k: usize| TimedCommand {
            at: 1,
            command: Command::AddNode { id: format!("x{k}"), copy: CopyMethod::Snapshot, group: None },
        };
        let base = crate::library::default_scenario().nodes.len();
        let fits = link_with((0..MAX_NODES - base).map(add).collect());
        assert_eq!(LinkState::decode(&fits.encode()).expect("up to the bound"), fits);
        let over = link_with((0..=MAX_NODES - base).map(add).collect());
        let e = LinkState::decode(&over.encode()).unwrap_err();
        let last = MAX_NODES - base;
        assert!(e.contains(&format!("commands[{last}].add_node: at most {MAX_NODES} nodes")), "{e}");
    }

    #[test]
    fn pane_commands_round_trip_and_only_faults_are_accepted() {
        use crate::scenario::Command;
        let scenario = crate::library::lesson("statement-now").unwrap().unwrap();
        let crash = TimedCommand { at: 400_001, command: Command::Crash("n2".into()) };
        // The trigger pane's run has a replicator, which the scenario's own method (statement) lacks.
        let cut = TimedCommand { at: 500_001, command: Command::CutLink("replicator".into(), "n1".into()) };
        let ls = LinkState {
            scenario,
            seed: 7,
            commands: Vec::new(),
            at: 600_000,
            panes: vec![(LogKind::Wal, vec![crash.clone()]), (LogKind::Trigger, vec![crash, cut])],
        };
        let link = ls.encode_view(View::Compare);
        assert_eq!(LinkState::decode_view(&link).unwrap(), (ls.clone(), View::Compare));
        let mut v = ls.to_json();
        v["panes"]["wal"] = json!([{"at_us": 5, "client": "alice", "sql": "DELETE FROM orders"}]);
        let bad = format!("run={}", base64url_encode(v.to_string().as_bytes()));
        assert!(LinkState::decode(&bad).unwrap_err().contains("panes.wal[0]: a pane of its own may only"));
        v["panes"] = json!({"sideways": []});
        let bad = format!("run={}", base64url_encode(v.to_string().as_bytes()));
        assert!(LinkState::decode(&bad).unwrap_err().contains("unknown log method (sideways)"));
    }

    #[test]
    fn the_view_round_trips_and_old_links_open_the_cluster() {
        let ls = LinkState {
            scenario: crate::library::default_scenario(),
            seed: 3,
            commands: Vec::new(),
            at: 5,
            panes: Vec::new(),
        };
        assert_eq!(LinkState::decode_view(&ls.encode()).unwrap(), (ls.clone(), View::Cluster));
        assert_eq!(LinkState::decode_view(&ls.encode_view(View::Compare)).unwrap(), (ls.clone(), View::Compare));
        assert_eq!(LinkState::decode_view(&ls.encode_view(View::Collab)).unwrap(), (ls.clone(), View::Collab));
        assert_eq!(ls.encode_view(View::Cluster), ls.encode(), "cluster links are the older format, unchanged");
        for bad in [json!("sideways"), json!(7), json!(null)] {
            let mut v = ls.to_json();
            v["view"] = bad;
            let link = format!("run={}", base64url_encode(v.to_string().as_bytes()));
            assert!(LinkState::decode(&link).unwrap_err().contains("view"));
        }
    }
}

/// The HTML that embeds the playground at `base` (the site's URL, e.g. `https://example.org/playground/`) showing
/// `fragment` (`lesson=NAME` or `run=…`) in compact mode: an iframe the browser loads only when it nears the
/// viewport. With `still` (the document `crate::still::page` makes for [`embed_src`]) the iframe shows that picture
/// until the reader reaches it. `replsim embed` prints it; docs/embedding.md explains it.
pub fn embed_snippet(base: &str, fragment: &str, title: &str, height: u32, still: Option<&str>) -> String {
    let attr = crate::still::escape;
    let src = embed_src(base, fragment);
    // `srcdoc` wins over `src`, which stays for a browser without srcdoc.
    let srcdoc = still.map(|d| format!(" srcdoc=\"{}\"", attr(d))).unwrap_or_default();
    format!(
        "<iframe src=\"{}\"{srcdoc} title=\"{}\" width=\"100%\" height=\"{height}\" loading=\"lazy\" \
         style=\"border:1px solid #ccd; border-radius:8px\" allow=\"clipboard-write\"></iframe>",
        attr(&src),
        attr(title)
    )
}

/// The URL an embed loads: the playground at `base` in its embed view, showing `fragment`.
pub fn embed_src(base: &str, fragment: &str) -> String {
    let base = base.split(['?', '#']).next().unwrap_or(base);
    format!("{base}?embed=1#{}", fragment.trim_start_matches('#'))
}

#[cfg(test)]
mod embed_tests {
    use super::*;

    #[test]
    fn the_snippet_points_at_the_embed_view_and_escapes_what_it_quotes() {
        let s = embed_snippet(
            "https://example.org/pg/?x=1",
            "#lesson=basics-async",
            "Async \"replication\" <demo>",
            480,
            None,
        );
        assert!(s.starts_with("<iframe src=\"https://example.org/pg/?embed=1#lesson=basics-async\""), "{s}");
        assert!(s.contains("title=\"Async &quot;replication&quot; &lt;demo&gt;\""), "{s}");
        assert!(s.contains("height=\"480\"") && s.contains("loading=\"lazy\""), "{s}");
    }

    #[test]
    fn with_a_still_the_iframe_holds_the_picture_until_it_loads_the_playground() {
        let lesson = crate::library::LESSONS.iter().find(|l| l.name == "basics-async").expect("the lesson");
        let s = Scenario::from_json_str(lesson.json).unwrap();
        let page = crate::still::page(&s, &embed_src("https://example.org/pg/", "lesson=basics-async")).unwrap();
        let snippet = embed_snippet("https://example.org/pg/", "lesson=basics-async", "Async", 480, Some(&page));
        let open = snippet.find(" srcdoc=\"").expect("a srcdoc") + " srcdoc=\"".len();
        let attr = &snippet[open..open + snippet[open..].find('"').expect("the attribute ends")];
        // Everything the page holds is escaped inside the attribute: no quote or tag ends it early.
        assert!(!attr.contains('<') && !attr.contains('>'), "{attr}");
        let doc = attr.replace("&quot;", "\"").replace("&lt;", "<").replace("&gt;", ">").replace("&#39;", "'");
        let doc = doc.replace("&amp;", "&");
        assert!(doc.contains("<svg class=\"still\""), "{doc}");
        assert!(doc.contains("href=\"https://example.org/pg/?embed=1#lesson=basics-async\""), "{doc}");
        assert!(snippet.starts_with("<iframe src=\"https://example.org/pg/?embed=1#lesson=basics-async\" srcdoc="));
    }
}
