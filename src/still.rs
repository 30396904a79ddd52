//! A still picture of a scenario's first moment: what an embed shows in a documentation page before the reader
//! reaches it, so that the page around it loads none of the playground until then (docs/embedding.md).
//!
//! [`svg`] draws the cluster as the canvas does at time 0, placed by the same code ([`crate::layout`]): nodes with
//! their role, status and log position, clients and whom they send to, the links between them, and a multi-leader
//! run's datacenters. It leaves out what only a running page has (messages in flight, the quorum overlay, tooltips).
//! Colours are presentation attributes (the light theme), so the picture reads even where the host page's
//! Content-Security-Policy refuses the small stylesheet that [`page`] adds for a dark theme.
//!
//! [`page`] wraps the picture in the document an embed's iframe holds (`srcdoc`) until it loads the playground: the
//! picture is a link to the playground, and a few lines of script follow it by themselves once the iframe is in
//! view.

use std::fmt::Write;

use crate::layout::{self, is_replica, Rect, Style, NODE_HW};
use crate::protocol::Protocol;
use crate::scenario::{Role, Scenario};
use crate::view::NodeView;
use crate::world::sim::Simulation;

/// Text for XML: attribute values and content.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

fn f(v: f64) -> String {
    ((v * 10.0).round() / 10.0).to_string()
}

// The light theme's colours (www/style.css).
const CARD: &str = "#ffffff";
const FG: &str = "#1b2130";
const MUTED: &str = "#5b6474";
const BORDER_STRONG: &str = "#b9c0cc";
const WIRE: &str = "#b4bcc8";
const WIRE_SOFT: &str = "#c9cfd8";
const TRACK: &str = "#e3e7ee";
const ACCENT: &str = "#0a66a8";
const OK: &str = "#1b8a5a";
const SYNC: &str = "#7a3e9d";

/// The picture of `s` at its first moment (its own seed, no commands), as one `<svg>` element; or why the scenario
/// does not start (the message the playground would show).
pub fn svg(s: &Scenario) -> Result<String, String> {
    let sim = Simulation::new(s, s.seed, &[]).map_err(|e| e.0)?;
    let v = sim.view();
    let ml = match &sim.protocol {
        Protocol::MultiLeader(c) => Some(&**c),
        _ => None,
    };
    let first_leader = s.nodes.iter().find(|n| n.role == Role::Leader).map(|n| n.id.as_str());
    let placed = layout::place(&v, first_leader, ml, Style::Compact);
    let (bx, by, bw, bh) = placed.layout.view_box;
    let title = s.title.as_deref().unwrap_or("A replicated database");
    let mut o = String::new();
    let _ = write!(
        o,
        r#"<svg class="still" xmlns="http://www.w3.org/2000/svg" viewBox="{} {} {} {}" preserveAspectRatio="xMidYMid meet" role="img" aria-label="{}" font-family="system-ui, sans-serif">"#,
        f(bx),
        f(by),
        f(bw),
        f(bh),
        escape(&format!("{title}: the cluster at its first moment"))
    );
    for r in &placed.regions {
        let _ = write!(
            o,
            r#"<g class="region"><rect x="{}" y="{}" width="{}" height="{}" rx="14" fill="none" stroke="{BORDER_STRONG}" stroke-dasharray="6 5"/><text x="{}" y="{}" font-size="15" font-weight="700" fill="{MUTED}">{}</text></g>"#,
            f(r.x0),
            f(r.y0),
            f(r.x1 - r.x0),
            f(r.y1 - r.y0),
            f(r.x0 + 14.0),
            f(r.y0 + 22.0),
            escape(&r.name)
        );
    }
    let line = |o: &mut String, class: &str, a: Rect, b: Rect, stroke: &str, width: f64, dash: Option<&str>| {
        let dash = dash.map(|d| format!(r#" stroke-dasharray="{d}""#)).unwrap_or_default();
        let _ = write!(
            o,
            r#"<line class="{class}" x1="{}" y1="{}" x2="{}" y2="{}" stroke="{stroke}" stroke-width="{width}"{dash}/>"#,
            f(a.x),
            f(a.y),
            f(b.x),
            f(b.y)
        );
    };
    // Clients' links under the nodes' links, as on the canvas.
    let cache_of = |id: &str| s.clients.iter().find(|c| c.id == id).and_then(|c| c.cache.clone());
    for (j, c) in v.clients.iter().enumerate() {
        let rc = placed.layout.clients[j];
        if c.target.is_empty() {
            for n in v.nodes.iter().filter(|n| n.role == Role::Replica) {
                if let Some(rn) = placed.rect_of(&v, &n.id) {
                    line(&mut o, "clink", rc, rn, WIRE_SOFT, 2.0, Some("3 5"));
                }
            }
        }
        let targets = [Some(c.target.clone()), cache_of(&c.id)];
        for t in targets.iter().flatten() {
            if let Some(rn) = placed.rect_of(&v, t) {
                line(&mut o, "clink", rc, rn, WIRE_SOFT, 2.0, Some("3 5"));
            }
        }
    }
    for (i, j, kind) in layout::node_links(&v, first_leader, ml) {
        let (a, b) = (placed.node_rects[i], placed.node_rects[j]);
        match kind {
            layout::LinkKind::Replicas => line(&mut o, "link", a, b, WIRE, 2.5, None),
            layout::LinkKind::Inter => line(&mut o, "link", a, b, SYNC, 3.0, None),
            layout::LinkKind::External => line(&mut o, "link", a, b, WIRE_SOFT, 1.5, Some("2 5")),
        }
    }
    for (c, r) in v.clients.iter().zip(&placed.layout.clients) {
        let sub = if c.target.is_empty() { "→ replicas".to_string() } else { format!("→ {}", c.target) };
        let _ = write!(
            o,
            r#"<g class="client" transform="translate({} {})"><rect class="card" x="{}" y="{}" width="{}" height="{}" rx="14" fill="{CARD}" stroke="{BORDER_STRONG}" stroke-width="1.5"/><text class="fg" x="{}" y="-4" font-size="16" font-weight="700" fill="{FG}">{}</text><text class="muted" x="{}" y="15" font-size="12" fill="{MUTED}">{}</text></g>"#,
            f(r.x),
            f(r.y),
            f(-r.hw),
            f(-r.hh),
            f(2.0 * r.hw),
            f(2.0 * r.hh),
            f(-r.hw + 14.0),
            escape(&truncate(&c.id, 9)),
            f(-r.hw + 14.0),
            escape(&truncate(&sub, 12)),
        );
    }
    for (n, r) in v.nodes.iter().zip(&placed.node_rects) {
        node(&mut o, n, *r);
    }
    o.push_str("</svg>");
    Ok(o)
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// A node's card: its name, role, status and log position (versions held, for a leaderless replica), the leader's
/// crown, and the progress bar of a replica (full at the first moment: nobody is behind yet).
fn node(o: &mut String, n: &NodeView, r: Rect) {
    let (x0, y0, w, h) = (-r.hw, -r.hh, 2.0 * r.hw, 2.0 * r.hh);
    let s = r.hw / NODE_HW;
    let y = |k: f64| f(y0 + k * s);
    let leader = n.role == Role::Leader;
    let replica = is_replica(n);
    let stroke = if leader { ACCENT } else { BORDER_STRONG };
    let _ = write!(
        o,
        r#"<g class="node" data-node="{}" transform="translate({} {})"><rect class="card" x="{}" y="{}" width="{}" height="{}" rx="12" fill="{CARD}" stroke="{stroke}" stroke-width="{}"/>"#,
        escape(&n.id),
        f(r.x),
        f(r.y),
        f(x0),
        f(y0),
        f(w),
        f(h),
        if leader { 2.0 } else { 1.5 },
    );
    if leader {
        let _ = write!(o, r#"<rect x="{}" y="{}" width="{}" height="6" rx="3" fill="{ACCENT}"/>"#, f(x0), f(y0), f(w));
    }
    if !replica {
        // A system outside the database: its name and what it is, centred (as on the canvas).
        let top = if n.role == Role::Cache { y0 + 30.0 } else { y0 + 24.0 };
        let role = if n.role == Role::Cdc { "cdc · search" } else { n.role.name() };
        let _ = write!(
            o,
            r#"<text class="fg" x="0" y="{}" text-anchor="middle" font-size="17" font-weight="750" fill="{FG}">{}</text><text class="muted" x="0" y="{}" text-anchor="middle" font-size="13" font-weight="600" letter-spacing="0.06em" fill="{MUTED}">{}</text></g>"#,
            f(top + 6.0),
            escape(&truncate(&n.id, 10)),
            f(top + 25.0),
            role.to_uppercase(),
        );
        return;
    }
    let _ = write!(
        o,
        r#"<text class="fg" x="{}" y="{}" font-size="21" font-weight="750" fill="{FG}">{}</text><text class="muted" x="{}" y="{}" text-anchor="end" font-size="13" font-weight="600" letter-spacing="0.06em" fill="{MUTED}">{}</text>"#,
        f(x0 + 14.0),
        y(30.0),
        escape(&n.id),
        f(-x0 - 14.0),
        y(29.0),
        n.role.name().to_uppercase(),
    );
    let position = if n.role == Role::Replica {
        format!("{} {}", n.lsn, if n.lsn == 1 { "version" } else { "versions" })
    } else {
        format!("LSN {}", n.lsn)
    };
    // What the canvas says under the status at the first moment, before anything happened.
    let doing = match n.role {
        Role::Leader => "accepts writes",
        Role::Replica => "takes reads and writes",
        _ => "in sync",
    };
    let _ = write!(
        o,
        r#"<text class="fg" x="{}" y="{}" font-size="15" fill="{FG}"><tspan fill="{OK}">●</tspan> {}</text><text class="fg" x="{}" y="{}" text-anchor="end" font-size="15" font-weight="650" fill="{FG}">{}</text><text class="muted" x="{}" y="{}" font-size="14" fill="{MUTED}">{}</text>"#,
        f(x0 + 14.0),
        y(54.0),
        n.status.name(),
        f(-x0 - 14.0),
        y(54.0),
        position,
        f(x0 + 14.0),
        y(78.0),
        doing,
    );
    let track = w - 28.0;
    let _ = write!(
        o,
        r#"<rect class="track" x="{}" y="{}" width="{}" height="7" rx="3.5" fill="{TRACK}"/><rect x="{}" y="{}" width="{}" height="7" rx="3.5" fill="{OK}"/></g>"#,
        f(x0 + 14.0),
        y(94.0),
        f(track),
        f(x0 + 14.0),
        y(94.0),
        f(track),
    );
}

/// The document an embed's iframe shows until it loads the playground (its `srcdoc`): the still picture of `s`,
/// which is a link to `src` (the playground's embed URL), with a line saying so; and a script that follows the link
/// by itself once the iframe is in the reader's view. Where the host page's policy refuses the script, a click still
/// loads the playground.
pub fn page(s: &Scenario, src: &str) -> Result<String, String> {
    let picture = svg(s)?;
    let title = s.title.as_deref().unwrap_or("Replication Playground");
    let src_js = serde_json::to_string(src).unwrap_or_default().replace('<', "\\u003c");
    Ok(format!(
        concat!(
            r#"<!doctype html><html lang="en"><meta charset="utf-8"><title>{title}</title>"#,
            "<style>",
            "html,body{{margin:0;height:100%;background:#f3f4f7;color:#1b2130;font:14px system-ui,sans-serif}}",
            "a{{display:flex;flex-direction:column;height:100%;color:inherit;text-decoration:none}}",
            "svg{{flex:1;min-height:0;width:100%;padding:8px;box-sizing:border-box}}",
            "p{{margin:0;padding:9px 14px;border-top:1px solid #dde1e8;background:#fff}}",
            "b{{display:inline-block;margin-right:.5em;padding:2px 10px;border-radius:12px;background:#0a66a8;color:#fff}}",
            "@media (prefers-color-scheme:dark){{html,body{{background:#0f1216;color:#e5e8ed}}",
            "p{{background:#171b21;border-color:#2a3039}}.card{{fill:#1d222a;stroke:#444d5a}}",
            ".fg{{fill:#e5e8ed}}.muted{{fill:#9aa3b1}}.track{{fill:#2c333d}}.link,.clink{{stroke:#4b5461}}}}",
            "</style>",
            r#"<a href="{href}" target="_self" aria-label="Load the playground: {title}">{picture}"#,
            "<p><b>▶ Load</b>{title} · click to load the playground</p></a>",
            "<script>if(\"IntersectionObserver\"in window)new IntersectionObserver(function(e){{",
            "if(e[e.length-1].isIntersecting)location.replace({src_js})}}).observe(document.documentElement)</script>",
            "</html>"
        ),
        title = escape(title),
        href = escape(src),
        picture = picture,
        src_js = src_js,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::library::LESSONS;

    #[test]
    fn every_lesson_has_a_still_with_every_node_and_client() {
        for lesson in LESSONS {
            let s = Scenario::from_json_str(lesson.json).unwrap();
            let picture = svg(&s).unwrap_or_else(|e| panic!("{}: {e}", lesson.name));
            assert!(picture.starts_with("<svg") && picture.ends_with("</svg>"), "{}", lesson.name);
            for n in &s.nodes {
                assert!(picture.contains(&format!(r#"data-node="{}""#, escape(&n.id))), "{}: {}", lesson.name, n.id);
            }
            let clients = picture.matches(r#"<g class="client""#).count();
            assert_eq!(clients, s.clients.len(), "{}", lesson.name);
        }
    }

    #[test]
    fn the_leader_wears_the_crown_and_followers_are_linked_to_it() {
        let lesson = LESSONS.iter().find(|l| l.name == "basics-async").expect("the lesson");
        let s = Scenario::from_json_str(lesson.json).unwrap();
        let picture = svg(&s).unwrap();
        let leader = s.nodes.iter().find(|n| n.role == Role::Leader).unwrap();
        let card = &picture[picture.find(&format!(r#"data-node="{}""#, leader.id)).unwrap()..];
        assert!(card[..card.find("</g>").unwrap()].contains(&format!(r#"fill="{ACCENT}""#)), "no crown: {card}");
        let replicas = s.nodes.iter().filter(|n| matches!(n.role, Role::Leader | Role::Follower)).count();
        assert_eq!(picture.matches(r#"<line class="link""#).count(), replicas * (replicas - 1) / 2);
    }

    #[test]
    fn what_the_scenario_names_is_escaped() {
        let lesson = LESSONS.iter().find(|l| l.name == "basics-async").expect("the lesson");
        let mut s = Scenario::from_json_str(lesson.json).unwrap();
        s.title = Some("<script>alert(1)</script> & \"quotes\"".into());
        let p = page(&s, "https://example.org/pg/?embed=1#lesson=x</script><b>").unwrap();
        assert!(!p.contains("<script>alert"), "{p}");
        assert!(p.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quotes&quot;"), "{p}");
        // The URL inside the script cannot end it.
        assert!(
            p.contains(r#"location.replace("https://example.org/pg/?embed=1#lesson=x\u003c/script>\u003cb>")"#),
            "{p}"
        );
        assert_eq!(p.matches("</script>").count(), 1, "{p}");
    }

    #[test]
    fn a_scenario_that_does_not_start_says_why() {
        let lesson = LESSONS.iter().find(|l| l.name == "basics-async").expect("the lesson");
        let mut s = Scenario::from_json_str(lesson.json).unwrap();
        s.schema = vec!["CREATE TABLE".into()];
        assert!(svg(&s).unwrap_err().len() > 5);
    }
}
