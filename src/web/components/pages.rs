//! The inspector's Pages section: a database node's storage pages as a grid of blocks (fill = bytes used, colour =
//! the table it holds, the catalog hatched, free pages hollow), its storage format and counters, and a hex dump of
//! the page a person clicks. Everything is read from the node's storage engine; nothing here changes it.

use yew::prelude::*;

use crate::protocol::single_leader::Node;
use crate::sql::PageKind;
use crate::web::state::{Action, Model};
use crate::web::text;

/// Pages drawn before "… n more" (a hostile scenario may have thousands).
const MAX_PAGES: usize = 240;
/// Rows of 16 bytes in a hex dump (page sizes go up to 64 KiB).
const MAX_DUMP_ROWS: usize = 32;
/// Table colours (CSS `.t0` … `.t5`, the Okabe–Ito palette); more tables reuse them.
const COLOURS: usize = 6;

fn kind_text(kind: &PageKind) -> String {
    match kind {
        PageKind::Catalog => "catalog (the schema)".into(),
        PageKind::Table(t) => ["table ", t].concat(),
        PageKind::Free => "free".into(),
    }
}

/// One entry of a `<dl class="facts">`.
pub fn fact(label: &'static str, value: String, tip: &'static str) -> Html {
    html! { <div title={tip}><dt>{ label }</dt><dd>{ value }</dd></div> }
}

pub fn view(m: &Model, node: &Node, d: &Callback<Action>) -> Html {
    let db = &node.db;
    let size = db.page_size().max(1);
    let pages = db.page_summaries();
    let mut tables: Vec<&str> = Vec::new();
    for p in &pages {
        if let PageKind::Table(t) = &p.kind {
            if !tables.contains(&t.as_str()) {
                tables.push(t);
            }
        }
    }
    let class_of = |k: &PageKind| -> String {
        match k {
            PageKind::Catalog => "cat".into(),
            PageKind::Free => "free".into(),
            PageKind::Table(t) => {
                ["t", &(tables.iter().position(|x| x == t).unwrap_or(0) % COLOURS).to_string()].concat()
            }
        }
    };
    let used: usize = pages.iter().map(|p| p.used).sum();
    let s = db.stats();
    let blocks = pages.iter().take(MAX_PAGES).map(|p| {
        let pct = (p.used.min(size) * 100 / size).to_string();
        let page = p.page;
        let on = m.page == Some(page);
        let onclick = d.reform(move |_: MouseEvent| Action::ShowPage((!on).then_some(page)));
        let tip = [
            "page ",
            &page.to_string(),
            ": ",
            &kind_text(&p.kind),
            ", ",
            &p.rows.to_string(),
            if p.rows == 1 { " row, " } else { " rows, " },
            &p.used.to_string(),
            " of ",
            &size.to_string(),
            " bytes used. Click for its bytes.",
        ]
        .concat();
        html! {
            <button class={classes!("pg", class_of(&p.kind), on.then_some("on"))} style={["--f:", &pct, "%"].concat()}
                    data-page={page.to_string()} title={tip} aria-pressed={if on { "true" } else { "false" }} {onclick} />
        }
    });
    let more = pages.len().saturating_sub(MAX_PAGES);
    let dump = m.page.map(|p| match (db.page_bytes(p), pages.iter().find(|x| x.page == p)) {
        (Some(bytes), summary) => {
            let hidden = bytes.len().saturating_sub(MAX_DUMP_ROWS * 16);
            let what = summary.map_or_else(String::new, |x| {
                [" · ", &kind_text(&x.kind), " · ", &x.used.to_string(), " bytes used"].concat()
            });
            html! {
                <div class="hexdump" data-testid="hexdump" data-page={p.to_string()}>
                    <div class="hx-head">
                        <b>{ ["Page ", &p.to_string()].concat() }</b><span class="muted">{ what }</span>
                        <button class="link-btn" data-testid="hexdump-close" onclick={d.reform(|_: MouseEvent| Action::ShowPage(None))}>{ "close" }</button>
                    </div>
                    <pre aria-label="Offset, 16 bytes in hex, the same bytes as text">{ text::hex_dump(bytes, MAX_DUMP_ROWS, size) }</pre>
                    if hidden > 0 {
                        <p class="muted">{ ["… ", &hidden.to_string(), " more bytes not shown"].concat() }</p>
                    }
                </div>
            }
        }
        (None, _) => html! {
            <p class="muted hexdump">{ ["Page ", &p.to_string(), " does not exist at this moment."].concat() }</p>
        },
    });
    html! {
        <div class="pages" data-testid="pages" data-format={db.storage_format().to_string()}>
            <h3>{ "Pages" }<span class="muted">{ [" · storage format ", &db.storage_format().to_string(), " · ", &size.to_string(), "-byte pages · ",
                &pages.len().to_string(), if pages.len() == 1 { " page" } else { " pages" }, " · ", &used.to_string(), " bytes used"].concat() }</span></h3>
            <p class="help">{ text::PAGES_HELP }</p>
            <div class="pg-grid" role="group" aria-label="Pages: click one to see its bytes">
                { for blocks }
                if more > 0 { <span class="muted">{ ["… ", &more.to_string(), " more"].concat() }</span> }
            </div>
            <ul class="pg-legend">
                <li><i class="pg cat" />{ "catalog" }</li>
                { for tables.iter().enumerate().map(|(i, t)| html! {
                    <li><i class={classes!("pg", ["t", &(i % COLOURS).to_string()].concat())} />{ text::truncate(t, 16) }</li>
                }) }
                <li><i class="pg free" />{ "free" }</li>
                <li class="muted">{ "fill = bytes used" }</li>
            </ul>
            { for dump }
            <dl class="facts storage" data-testid="storage-stats">
                { fact("rows read", s.rows_read.to_string(), "Rows the engine read to answer statements and build log records") }
                { fact("rows written", s.rows_written.to_string(), "Rows inserted, updated or deleted") }
                { fact("statements", s.statements.to_string(), "Statements executed (applied log entries included)") }
                { fact("pages written", s.pages_written.to_string(), "Page writes: every change rewrites the pages it touches") }
                { fact("bytes written", s.bytes_written.to_string(), "Page bytes written to disk (write amplification: compare with the rows)") }
            </dl>
        </div>
    }
}
