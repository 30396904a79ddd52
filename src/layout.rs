//! Where things go on the cluster canvas: the boxes of nodes, clients and external systems, the datacenter regions
//! of a multi-leader run, and which pairs of nodes are linked. Pure geometry over the [`ClusterView`], shared by the
//! page's canvas (`web/components/canvas.rs`) and the still pictures that stand in for an embed until it loads
//! ([`crate::still`]), so that the picture and the live drawing put everything in the same place.

use crate::protocol::multi_leader::Cluster;
use crate::scenario::Role;
use crate::view::{ClusterView, NodeView};

// (In the wasm the browser's Math: no libm linked in for two functions.)
#[cfg(target_arch = "wasm32")]
fn cos(a: f64) -> f64 {
    js_sys::Math::cos(a)
}
#[cfg(target_arch = "wasm32")]
fn sin(a: f64) -> f64 {
    js_sys::Math::sin(a)
}
#[cfg(not(target_arch = "wasm32"))]
fn cos(a: f64) -> f64 {
    a.cos()
}
#[cfg(not(target_arch = "wasm32"))]
fn sin(a: f64) -> f64 {
    a.sin()
}

/// A box on the canvas: centre and half sizes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rect {
    pub x: f64,
    pub y: f64,
    pub hw: f64,
    pub hh: f64,
}

impl Rect {
    /// Where the ray from the centre in direction (ux, uy) leaves the box (plus `pad`).
    pub fn exit(&self, ux: f64, uy: f64, pad: f64) -> (f64, f64) {
        let tx = if ux.abs() > 1e-9 { self.hw / ux.abs() } else { f64::INFINITY };
        let ty = if uy.abs() > 1e-9 { self.hh / uy.abs() } else { f64::INFINITY };
        let t = tx.min(ty) + pad;
        (self.x + ux * t, self.y + uy * t)
    }
}

pub struct Layout {
    /// Replicas (leader and followers), on an ellipse.
    pub nodes: Vec<Rect>,
    /// Systems outside the database (a cache, a failover controller), in a column of their own.
    pub externals: Vec<Rect>,
    pub clients: Vec<Rect>,
    /// x, y, width, height
    pub view_box: (f64, f64, f64, f64),
    pub scale: f64,
}

pub const NODE_HW: f64 = 104.0;
pub const NODE_HH: f64 = 58.0;
pub const CLIENT_HW: f64 = 58.0;
pub const CLIENT_HH: f64 = 28.0;
pub const EXT_HW: f64 = 80.0;
pub const EXT_HH: f64 = 46.0;

/// How to arrange the drawing for the space it gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// The full page: clients in a column on the left, nodes on a wide ellipse.
    Wide,
    /// Embed mode and medium screens: the same, packed closer so that text stays legible.
    Compact,
    /// Phones: clients in a row on top, nodes on a narrow ellipse below.
    Portrait,
}

/// Positions for `n` replicas (the one at index `top` drawn on top), `ext` external systems and `m` clients.
pub fn layout(n: usize, top: usize, m: usize, ext: usize, style: Style) -> Layout {
    let scale = if n <= 6 { 1.0 } else { (6.0 / n as f64).max(0.55) };
    let (hw, hh) = (NODE_HW * scale, NODE_HH * scale);
    let (cx, cy) = (620.0, 300.0);
    let (rx, ry) = match style {
        Style::Wide => (265.0, 200.0),
        Style::Compact => (215.0, 150.0),
        Style::Portrait => (if n == 3 { 128.0 } else { 150.0 }, 200.0),
    };
    let (rx, ry) = (if n <= 2 { 0.0 } else { rx }, if n <= 1 { 0.0 } else { ry });
    let nodes: Vec<Rect> = (0..n)
        .map(|i| {
            let k = (i + n - top.min(n.saturating_sub(1))) % n.max(1);
            // Counter-clockwise from the top, so that n2 is drawn left of n3.
            let a = -std::f64::consts::FRAC_PI_2 - std::f64::consts::TAU * k as f64 / n.max(1) as f64;
            Rect { x: cx + rx * cos(a), y: cy + ry * sin(a), hw, hh }
        })
        .collect();
    let mut min_x = nodes.iter().map(|r| r.x - r.hw).fold(f64::INFINITY, f64::min);
    let mut max_x = nodes.iter().map(|r| r.x + r.hw).fold(f64::NEG_INFINITY, f64::max);
    let mut min_y = nodes.iter().map(|r| r.y - r.hh).fold(f64::INFINITY, f64::min);
    let mut max_y = nodes.iter().map(|r| r.y + r.hh).fold(f64::NEG_INFINITY, f64::max);
    if n == 0 {
        (min_x, max_x, min_y, max_y) = (400.0, 800.0, 100.0, 500.0);
    }
    // External systems stand apart from the replicas: a column on the right (a row below on phones).
    let externals: Vec<Rect> = (0..ext)
        .map(|j| {
            if style == Style::Portrait && n > 2 {
                let gap = EXT_HW * 2.0 + 24.0;
                let x = (min_x + max_x) / 2.0 + (j as f64 - (ext as f64 - 1.0) / 2.0) * gap;
                Rect { x, y: max_y + 70.0 + EXT_HH, hw: EXT_HW, hh: EXT_HH }
            } else {
                let gap = EXT_HH * 2.0 + 40.0;
                let y = cy + (j as f64 - (ext as f64 - 1.0) / 2.0) * gap;
                let x = max_x + if style == Style::Wide { 60.0 } else { 40.0 } + EXT_HW;
                Rect { x, y, hw: EXT_HW, hh: EXT_HH }
            }
        })
        .collect();
    let clients: Vec<Rect> = if style == Style::Portrait {
        // A row above the nodes, spread over their width.
        let y = min_y - 90.0 - CLIENT_HH;
        let span = (max_x - min_x).max(m as f64 * (CLIENT_HW * 2.0 + 12.0));
        let mid = (min_x + max_x) / 2.0;
        (0..m)
            .map(|j| {
                let x = if m == 1 {
                    mid
                } else {
                    mid - span / 2.0 + CLIENT_HW + (span - 2.0 * CLIENT_HW) * j as f64 / (m - 1) as f64
                };
                Rect { x, y, hw: CLIENT_HW, hh: CLIENT_HH }
            })
            .collect()
    } else {
        // A column left of the nodes, spread over their height.
        let x = min_x - if style == Style::Compact { 110.0 } else { 190.0 } - CLIENT_HW;
        let span = (max_y - min_y).max(m as f64 * (CLIENT_HH * 2.0 + 16.0));
        let mid = (min_y + max_y) / 2.0;
        (0..m)
            .map(|j| {
                let y = if m == 1 {
                    mid
                } else {
                    mid - span / 2.0 + CLIENT_HH + (span - 2.0 * CLIENT_HH) * j as f64 / (m - 1) as f64
                };
                Rect { x, y, hw: CLIENT_HW, hh: CLIENT_HH }
            })
            .collect()
    };
    for c in clients.iter().chain(&externals) {
        min_x = min_x.min(c.x - c.hw);
        max_x = max_x.max(c.x + c.hw);
        min_y = min_y.min(c.y - c.hh);
        max_y = max_y.max(c.y + c.hh);
    }
    let pad = if style == Style::Wide { 34.0 } else { 16.0 };
    Layout {
        nodes,
        externals,
        clients,
        view_box: (min_x - pad, min_y - pad, max_x - min_x + 2.0 * pad, max_y - min_y + 2.0 * pad),
        scale,
    }
}

pub fn index(cl: &Cluster, id: &str) -> Option<usize> {
    cl.inner.nodes.iter().position(|n| n.id == id)
}

pub fn dc(cl: &Cluster, id: &str) -> Option<usize> {
    index(cl, id).and_then(|i| cl.dc_of.get(i).copied().flatten())
}

pub fn leader(cl: &Cluster, id: &str) -> bool {
    index(cl, id).is_some_and(|i| cl.is_leader(i))
}

/// Is there a link to draw between nodes `a` and `b`: inside a datacenter, or between two leaders.
pub fn wired(cl: &Cluster, a: &str, b: &str) -> bool {
    dc(cl, a) == dc(cl, b) || (leader(cl, a) && leader(cl, b))
}

/// A link between leaders of different datacenters (drawn apart from the links inside one).
pub fn inter(cl: &Cluster, a: &str, b: &str) -> bool {
    leader(cl, a) && leader(cl, b) && dc(cl, a) != dc(cl, b)
}

/// A datacenter's region on the canvas.
pub struct Region {
    pub name: String,
    pub x0: f64,
    pub y0: f64,
    pub x1: f64,
    pub y1: f64,
}

const HEADER: f64 = 34.0;

/// Rearrange the replicas of `lay` (ids in `ids`, in layout order) in one column per datacenter, the leader on
/// top, and return the regions. The view box grows to hold them.
pub fn arrange_datacenters(cl: &Cluster, ids: &[&str], lay: &mut Layout) -> Vec<Region> {
    if lay.nodes.is_empty() {
        return Vec::new();
    }
    let (hw, hh) = (lay.nodes[0].hw, lay.nodes[0].hh);
    let min_x = lay.nodes.iter().map(|r| r.x - r.hw).fold(f64::INFINITY, f64::min);
    let max_x = lay.nodes.iter().map(|r| r.x + r.hw).fold(f64::NEG_INFINITY, f64::max);
    let min_y = lay.nodes.iter().map(|r| r.y - r.hh).fold(f64::INFINITY, f64::min);
    let max_y = lay.nodes.iter().map(|r| r.y + r.hh).fold(f64::NEG_INFINITY, f64::max);
    // Datacenters in the order of their first node; nodes without one at the end, in a column of their own.
    let mut groups: Vec<(Option<usize>, Vec<usize>)> = Vec::new();
    for (k, id) in ids.iter().enumerate() {
        let d = dc(cl, id);
        match groups.iter_mut().find(|g| g.0 == d) {
            Some(g) => g.1.push(k),
            None => groups.push((d, vec![k])),
        }
    }
    for g in &mut groups {
        crate::sql::sort_stable_by(&mut g.1, |a, b| (!leader(cl, ids[*a])).cmp(&!leader(cl, ids[*b])));
    }
    let cols = groups.len().max(1) as f64;
    let col_w = ((max_x - min_x) / cols).max(2.0 * hw + 40.0);
    let (top, bottom) = (min_y + HEADER, max_y);
    // With more than two datacenters of one node each, every other leader sits lower: no leader-to-leader link
    // passes behind a third leader.
    let stagger = if groups.len() > 2 { (bottom - top - 2.0 * hh).min(150.0) } else { 0.0 };
    let mut nodes = lay.nodes.clone();
    nodes.truncate(ids.len());
    let mut regions = Vec::new();
    for (c, (d, members)) in groups.iter().enumerate() {
        let x = min_x + col_w * (c as f64 + 0.5);
        let n = members.len();
        for (j, &k) in members.iter().enumerate() {
            let y = if n == 1 {
                let mid = (top + bottom) / 2.0;
                mid - stagger / 2.0 + if c % 2 == 1 { stagger } else { 0.0 }
            } else {
                top + hh + (bottom - top - 2.0 * hh) * j as f64 / (n - 1) as f64
            };
            if let Some(r) = nodes.get_mut(k) {
                *r = Rect { x, y, hw, hh };
            }
        }
        let name = d.and_then(|d| cl.spec.datacenters.get(d)).cloned().unwrap_or_else(|| "no datacenter".into());
        let ys = members.iter().filter_map(|&k| nodes.get(k)).map(|r| r.y);
        let (lo, hi) = ys.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), y| (a.min(y), b.max(y)));
        regions.push(Region {
            name,
            x0: x - col_w / 2.0 + 10.0,
            x1: x + col_w / 2.0 - 10.0,
            y0: lo - hh - HEADER,
            y1: hi + hh + 14.0,
        });
    }
    lay.nodes = nodes;
    let (bx, by, bw, bh) = lay.view_box;
    let (mut x0, mut y0, mut x1, mut y1) = (bx, by, bx + bw, by + bh);
    for r in &regions {
        x0 = x0.min(r.x0 - 12.0);
        y0 = y0.min(r.y0 - 12.0);
        x1 = x1.max(r.x1 + 12.0);
        y1 = y1.max(r.y1 + 12.0);
    }
    lay.view_box = (x0, y0, x1 - x0, y1 - y0);
    regions
}

/// A replica (leader, follower, leaderless replica), drawn on the ellipse; anything else is an external system.
pub fn is_replica(n: &NodeView) -> bool {
    matches!(n.role, Role::Leader | Role::Follower | Role::Replica)
}

/// Everything placed: a box per node of the view (in its order), per client, and the datacenters' regions.
pub struct Placement {
    pub layout: Layout,
    pub node_rects: Vec<Rect>,
    pub regions: Vec<Region>,
}

impl Placement {
    /// The box of a node or client by name.
    pub fn rect_of(&self, v: &ClusterView, name: &str) -> Option<Rect> {
        if let Some(i) = v.nodes.iter().position(|n| n.id == name) {
            return self.node_rects.get(i).copied();
        }
        v.clients.iter().position(|c| c.id == name).and_then(|j| self.layout.clients.get(j).copied())
    }
}

/// Replicas on the ellipse in a stable order, the scenario's first leader (`first_leader`) on top: a failover
/// changes the crown, not the picture. External systems (cache, controller) in a column apart; a multi-leader
/// run's replicas in one column per datacenter.
pub fn place(v: &ClusterView, first_leader: Option<&str>, ml: Option<&Cluster>, style: Style) -> Placement {
    let replicas: Vec<usize> = (0..v.nodes.len()).filter(|&i| is_replica(&v.nodes[i])).collect();
    let externals: Vec<usize> = (0..v.nodes.len()).filter(|&i| !is_replica(&v.nodes[i])).collect();
    let top = replicas.iter().position(|&i| Some(v.nodes[i].id.as_str()) == first_leader).unwrap_or(0);
    let mut lay =
        layout(replicas.len().max(if ml.is_some() { 4 } else { 0 }), top, v.clients.len(), externals.len(), style);
    let ids: Vec<&str> = replicas.iter().map(|&i| v.nodes[i].id.as_str()).collect();
    let regions = ml.map(|cl| arrange_datacenters(cl, &ids, &mut lay)).unwrap_or_default();
    let mut node_rects: Vec<Rect> = vec![Rect { x: 0.0, y: 0.0, hw: 1.0, hh: 1.0 }; v.nodes.len()];
    for (k, &i) in replicas.iter().enumerate() {
        node_rects[i] = lay.nodes[k];
    }
    for (k, &i) in externals.iter().enumerate() {
        node_rects[i] = lay.externals[k];
    }
    Placement { layout: lay, node_rects, regions }
}

/// What a link between two nodes stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkKind {
    /// Between two replicas.
    Replicas,
    /// Between leaders of two datacenters (multi-leader).
    Inter,
    /// To or from a system outside the database (controller, trigger-based replicator, CDC consumer).
    External,
}

impl LinkKind {
    pub fn class(self) -> &'static str {
        match self {
            LinkKind::Replicas => "link",
            LinkKind::Inter => "link inter",
            LinkKind::External => "link ext",
        }
    }
}

/// The node pairs (i < j, in node order) with a link: every pair of replicas (in a multi-leader run only inside a
/// datacenter and between leaders); a controller or trigger-based replicator to every replica, and a replicator to
/// the search index it feeds; a CDC consumer to the leader it reads.
pub fn node_links(v: &ClusterView, first_leader: Option<&str>, ml: Option<&Cluster>) -> Vec<(usize, usize, LinkKind)> {
    let replicator = v.nodes.iter().any(|n| n.role == Role::Replicator);
    let source = |c: &NodeView| c.follows.as_deref().or(first_leader).map(str::to_string);
    let wired = |a: &NodeView, b: &NodeView| match (a.role, b.role) {
        (Role::Controller | Role::Replicator, _) => {
            is_replica(b) || (a.role == Role::Replicator && b.role == Role::Cdc)
        }
        (Role::Cdc, _) => !replicator && is_replica(b) && source(a).as_deref() == Some(b.id.as_str()),
        _ => is_replica(a) && is_replica(b) && ml.is_none_or(|cl| wired(cl, &a.id, &b.id)),
    };
    let mut out = Vec::new();
    for i in 0..v.nodes.len() {
        for j in i + 1..v.nodes.len() {
            let (ni, nj) = (&v.nodes[i], &v.nodes[j]);
            if !(wired(ni, nj) || wired(nj, ni)) {
                continue;
            }
            let kind = if ml.is_some_and(|cl| inter(cl, &ni.id, &nj.id)) {
                LinkKind::Inter
            } else if is_replica(ni) && is_replica(nj) {
                LinkKind::Replicas
            } else {
                LinkKind::External
            };
            out.push((i, j, kind));
        }
    }
    out
}
