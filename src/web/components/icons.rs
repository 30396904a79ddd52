//! Message-kind shapes (used by the canvas tokens and the legend) and a few inline icons. Colour comes from CSS
//! (`.k-<kind>`, an Okabe–Ito palette); the shape alone already tells the kinds apart.

use yew::prelude::*;

use crate::world::trace::MsgKind;

/// The shape of a message kind, centred on (0, 0), about 18 units across: an SVG element and its attributes
/// (the legend draws it through Yew, the canvas's token layer directly).
pub fn shape_spec(kind: MsgKind) -> (&'static str, &'static [(&'static str, &'static str)]) {
    match kind {
        MsgKind::Request => {
            ("rect", &[("class", "shape"), ("x", "-7"), ("y", "-7"), ("width", "14"), ("height", "14"), ("rx", "2")])
        }
        MsgKind::Response => ("circle", &[("class", "shape"), ("r", "8")]),
        MsgKind::Replicate => ("polygon", &[("class", "shape"), ("points", "0,-10 10,0 0,10 -10,0")]),
        MsgKind::Ack => ("polygon", &[("class", "shape"), ("points", "0,-9 9,7 -9,7")]),
        MsgKind::Heartbeat => ("circle", &[("class", "shape ring"), ("r", "6")]),
        MsgKind::Fetch => ("polygon", &[("class", "shape"), ("points", "0,9 9,-7 -9,-7")]),
        MsgKind::Snapshot => {
            ("rect", &[("class", "shape"), ("x", "-10"), ("y", "-6"), ("width", "20"), ("height", "12"), ("rx", "1")])
        }
        MsgKind::Election => {
            ("polygon", &[("class", "shape"), ("points", "0,-10 3,-3 10,-3 4,2 6,9 0,5 -6,9 -4,2 -10,-3 -3,-3")])
        }
    }
}

/// The shape of a message kind as `Html` (`shape_spec`).
pub fn kind_shape(kind: MsgKind) -> Html {
    let (name, attrs) = shape_spec(kind);
    let mut tag = yew::virtual_dom::VTag::new(name);
    for (k, v) in attrs {
        tag.add_attribute(k, *v);
    }
    tag.into()
}

/// What a kind is, in one line (legend tooltips).
pub fn kind_help(kind: MsgKind) -> &'static str {
    match kind {
        MsgKind::Request => "a client's statement on its way to a node",
        MsgKind::Response => "a node's answer to a client",
        MsgKind::Replicate => "log entries shipped from the leader to a follower",
        MsgKind::Ack => "a follower confirming the log position it has",
        MsgKind::Heartbeat => "the leader's periodic 'I am alive, my log ends at LSN n'",
        MsgKind::Fetch => "a follower asking for the entries it is missing (or being told to rebuild)",
        MsgKind::Snapshot => "a chunk of a snapshot (or of a file copy) for a follower that joins or rebuilds",
        MsgKind::Election => "votes, promotions and new-leader announcements during a failover",
    }
}

/// A small inline SVG showing one kind's shape, for HTML legends.
pub fn kind_swatch(kind: MsgKind) -> Html {
    html! {
        <svg class={classes!("swatch", kind_class(kind))} viewBox="-12 -12 24 24" width="18" height="18" aria-hidden="true">
            { kind_shape(kind) }
        </svg>
    }
}

pub fn kind_class(kind: MsgKind) -> &'static str {
    match kind {
        MsgKind::Request => "k-request",
        MsgKind::Response => "k-response",
        MsgKind::Replicate => "k-replicate",
        MsgKind::Ack => "k-ack",
        MsgKind::Heartbeat => "k-heartbeat",
        MsgKind::Fetch => "k-fetch",
        MsgKind::Snapshot => "k-snapshot",
        MsgKind::Election => "k-election",
    }
}

/// Button icons (inline SVG, `currentColor`).
pub fn icon(name: &str) -> Html {
    let path = match name {
        "play" => "M7 4.5v15l12-7.5z",
        "pause" => "M6.5 4.5h4v15h-4zM13.5 4.5h4v15h-4z",
        "step" => "M5 4.5v15l10-7.5zM16 4.5h3v15h-3z",
        "next" => "M3 4.5v15l8-7.5zM11 4.5v15l8-7.5zM19 4.5h2.5v15H19z",
        "restart" => "M12 5a7 7 0 1 1-6.6 4.7l2 .7A5 5 0 1 0 12 7v3L7.5 6 12 2z",
        "sun" => "M12 7a5 5 0 1 1 0 10 5 5 0 0 1 0-10zM11 1h2v3h-2zM11 20h2v3h-2zM1 11h3v2H1zM20 11h3v2h-3z",
        "moon" => "M14.5 3a8.5 8.5 0 1 0 6.5 13.9A7 7 0 0 1 14.5 3z",
        "share" => "M18 8a3 3 0 1 0-2.8-4L8.9 7.2a3 3 0 1 0 0 5.6l6.3 3.2A3 3 0 1 0 16 14.3L9.7 11.1a3 3 0 0 0 0-.2l6.2-3.2A3 3 0 0 0 18 8z",
        _ => "",
    };
    html! {
        <svg class="icon" viewBox="0 0 24 24" width="18" height="18" aria-hidden="true"><path d={path} /></svg>
    }
}
