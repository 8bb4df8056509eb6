//! The SVG picture, laid out here: no Graphviz is needed to read the graph, and the layout
//! follows how muster starts things, which a general-purpose layout would not.
//!
//! The layout is a small layered (Sugiyama-style) drawing with phases as vertical bands,
//! left to right in start order:
//! - inside a phase, a service stands one column right of the deepest service it needs in
//!   the same phase (longest path), so every arrow inside a phase points left, as arrows
//!   into earlier phases do; a column taller than a few rows is wrapped into sub-columns;
//! - edges into one service that wait for the same condition form a bundle: they meet in one
//!   arrowhead, carry one condition label, and share one lane through every column they
//!   cross on the way, so curves only run in the gaps between columns and never cross a box;
//! - the order inside each column comes from barycenter sweeps (the ordering with the fewest
//!   crossings is kept), and heights from a least-squares placement that pulls each box
//!   toward its neighbours while keeping the minimum spacing.
//!
//! Lanes grow with edges times the columns they cross, which is harmless for stacks people
//! draw (a few hundred services) but quadratic for thousands of services in long chains. Past
//! [`LANE_BUDGET`] lanes the edges are drawn directly from box to box (they may then cross
//! boxes) and the subtitle says so; `graph.mmd` and `graph.dot` carry the same graph for a
//! tool that lays out large graphs.
//!
//! Every number is written with one decimal, from computations that depend on nothing but
//! the registry, so the same registry always gives the same bytes.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use super::{PhaseView, View, timeout_text};
use crate::registry::model::{Condition, Registry};

const MARGIN: f64 = 24.0;
/// Title, subtitle and reading note above the phases.
const TITLE_H: f64 = 58.0;
/// Phase name, order and timeout at the top of each band.
const HEADER_H: f64 = 48.0;
const BAND_PAD: f64 = 18.0;
const BAND_GAP: f64 = 26.0;
/// Between the columns of one phase, at least.
const COL_GAP: f64 = 60.0;
/// The horizontal room a curve needs between two columns, besides label stubs.
const CURVE_ROOM: f64 = 44.0;
const BOX_H: f64 = 32.0;
const BOX_PAD: f64 = 12.0;
const BOX_MIN_W: f64 = 72.0;
const NODE_GAP: f64 = 16.0;
/// Between two lanes in a column, and between a lane and a box.
const LANE_GAP: f64 = 7.0;
const LANE_BOX_GAP: f64 = 10.0;
/// Vertical distance between two edges meeting a box side, between two arrowheads, and
/// around a labelled arrowhead.
const PORT_STEP: f64 = 6.0;
const ARROW_STEP: f64 = 10.0;
const LABEL_STEP: f64 = 13.0;
const NAME_SIZE: f64 = 13.0;
const LABEL_SIZE: f64 = 10.0;
const LABEL_H: f64 = 12.0;
/// Room for the arrowhead between a box and the label of the edges entering it.
const ARROW_ROOM: f64 = 13.0;
/// Advance of one character of the monospace font, in ems (DejaVu Sans Mono, Menlo and
/// Consolas are all close to 0.6).
const MONO_EM: f64 = 0.61;
/// Barycenter sweeps when ordering columns, and placement rounds when choosing heights.
const SWEEPS: usize = 12;
const ROUNDS: usize = 10;
/// At most this many lanes (edges times the columns they cross, at worst) are routed.
const LANE_BUDGET: usize = 50_000;

const SANS: &str =
    "system-ui, -apple-system, 'Segoe UI', 'DejaVu Sans', Helvetica, Arial, sans-serif";
const MONO: &str = "ui-monospace, 'DejaVu Sans Mono', Menlo, Consolas, monospace";

/// The graph as a self-contained SVG document.
pub fn svg(reg: &Registry) -> String {
    let view = View::new(reg);
    let layout = Layout::new(&view);
    draw(&view, &layout)
}

// ---------------------------------------------------------------------------------------------
// Layout
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    /// A service (index into `View::nodes`).
    Node(usize),
    /// Where a bundle passes through a column.
    Lane,
}

#[derive(Debug, Clone)]
struct Item {
    kind: Kind,
    col: usize,
    /// Vertical centre, relative to the top of the drawing area.
    y: f64,
    h: f64,
}

#[derive(Debug, Clone)]
struct Column {
    /// Index into `View::phases`.
    phase: usize,
    /// Top to bottom.
    items: Vec<usize>,
    /// Left edge, relative to the left of the drawing area.
    x: f64,
    width: f64,
    /// How far the straight ends of labelled bundles reach out of the column, on its left
    /// and on its right.
    stub: [f64; 2],
}

/// Edges into one service, from the same side, waiting for the same condition (optional
/// edges and loops are bundles of their own): one arrowhead, one label.
#[derive(Debug, Clone)]
struct Bundle {
    /// The item of the dependency.
    target: usize,
    /// Whether the edges enter the target's box on its right side.
    right: bool,
    /// Both ends in one column (only in a dependency cycle).
    looped: bool,
    label: Option<&'static str>,
    routes: Vec<usize>,
    port_y: f64,
}

/// One drawn edge: the items it runs through, dependent first, dependency last.
#[derive(Debug, Clone)]
struct Route {
    edge: usize,
    bundle: usize,
    chain: Vec<usize>,
    /// Height of the port at the dependent.
    start_y: f64,
}

#[derive(Debug, Clone)]
struct Band {
    x: f64,
    width: f64,
}

struct Layout {
    items: Vec<Item>,
    columns: Vec<Column>,
    routes: Vec<Route>,
    bundles: Vec<Bundle>,
    /// Whether edges run in lanes through the columns they cross, or directly.
    routed: bool,
    /// One per phase of the view.
    bands: Vec<Band>,
    /// Box width per node.
    widths: Vec<f64>,
    /// Size of the drawing area (the bands' content, without headers and padding).
    width: f64,
    height: f64,
}

impl Layout {
    fn new(view: &View) -> Layout {
        let widths: Vec<f64> = view.nodes.iter().map(|n| box_width(n.name)).collect();
        let (mut items, mut columns) = columns(view);
        let routed = lanes_at_most(view, &items) <= LANE_BUDGET;
        let (routes, bundles) = routes(view, &mut items, &mut columns, routed);
        let links = links(&items, &routes);
        order(&items, &mut columns, &links);
        let mut layout = Layout {
            items,
            columns,
            routes,
            bundles,
            routed,
            bands: Vec::new(),
            widths,
            width: 0.0,
            height: 0.0,
        };
        layout.place_x(view);
        layout.place_y(&links);
        layout.place_ports();
        layout
    }

    fn is_node(&self, item: usize) -> bool {
        matches!(self.items[item].kind, Kind::Node(_))
    }

    /// Left or right edge of a column, in drawing-area coordinates.
    fn edge_x(&self, col: usize, right: bool) -> f64 {
        let c = &self.columns[col];
        if right { c.x + c.width } else { c.x }
    }

    /// Columns left to right, with room for label stubs between them; bands around the
    /// columns of each phase, wide enough for the phase header.
    fn place_x(&mut self, view: &View) {
        for c in 0..self.columns.len() {
            self.columns[c].width = self.columns[c]
                .items
                .iter()
                .filter_map(|&i| match self.items[i].kind {
                    Kind::Node(n) => Some(self.widths[n]),
                    Kind::Lane => None,
                })
                .fold(0.0, f64::max);
        }
        for b in 0..self.bundles.len() {
            let bundle = &self.bundles[b];
            if let (Some(label), false) = (bundle.label, bundle.looped) {
                let stub = ARROW_ROOM + label_width(label) + 8.0;
                let col = self.items[bundle.target].col;
                let side = &mut self.columns[col].stub[usize::from(bundle.right)];
                *side = side.max(stub);
            }
        }
        let between = |a: &Column, b: &Column| a.stub[1] + b.stub[0] + CURVE_ROOM;
        let mut x = 0.0;
        let mut previous: Option<usize> = None;
        for (p, phase) in view.phases.iter().enumerate() {
            let cols: Vec<usize> = (0..self.columns.len())
                .filter(|&c| self.columns[c].phase == p)
                .collect();
            let mut offsets = Vec::with_capacity(cols.len());
            let mut inner = 0.0;
            for (k, &c) in cols.iter().enumerate() {
                if k > 0 {
                    inner += COL_GAP.max(between(&self.columns[cols[k - 1]], &self.columns[c]));
                }
                offsets.push(inner);
                inner += self.columns[c].width;
            }
            if let (Some(last), Some(&first)) = (previous, cols.first()) {
                let needed = between(&self.columns[last], &self.columns[first]);
                x += (needed - 2.0 * BAND_PAD).max(BAND_GAP);
            }
            let header = sans_width(&format!("phase {}", phase.name), 14.0, true).max(sans_width(
                &phase_meta(phase),
                11.0,
                false,
            ));
            let width = inner.max(header) + 2.0 * BAND_PAD;
            let start = x + (width - inner) / 2.0;
            for (&c, offset) in cols.iter().zip(offsets) {
                self.columns[c].x = start + offset;
            }
            self.bands.push(Band { x, width });
            x += width;
            previous = cols.last().copied().or(previous);
        }
        self.width = x;
    }

    /// Heights: start stacked and centred, then alternate sweeps that pull every item
    /// toward the mean height of its neighbours on one side (the last rounds on both
    /// sides), packing each column without overlaps.
    fn place_y(&mut self, links: &[Vec<usize>]) {
        for c in 0..self.columns.len() {
            let ys = pack(
                &vec![0.0; self.columns[c].items.len()],
                &self.separations(c),
            );
            let mid =
                (ys.first().copied().unwrap_or(0.0) + ys.last().copied().unwrap_or(0.0)) / 2.0;
            for (k, &i) in self.columns[c].items.iter().enumerate() {
                self.items[i].y = ys[k] - mid;
            }
        }
        let n = self.columns.len();
        for round in 0..ROUNDS {
            let (order, sides): (Vec<usize>, [bool; 2]) = if round >= ROUNDS - 2 {
                ((0..n).collect(), [true, true])
            } else if round % 2 == 0 {
                ((0..n).collect(), [true, false])
            } else {
                ((0..n).rev().collect(), [false, true])
            };
            for c in order {
                let desired: Vec<f64> = self.columns[c]
                    .items
                    .iter()
                    .map(|&i| {
                        let near: Vec<f64> = links[i]
                            .iter()
                            .filter(|&&j| {
                                let cj = self.items[j].col;
                                (sides[0] && cj + 1 == c) || (sides[1] && cj == c + 1)
                            })
                            .map(|&j| self.items[j].y)
                            .collect();
                        if near.is_empty() {
                            self.items[i].y
                        } else {
                            near.iter().sum::<f64>() / near.len() as f64
                        }
                    })
                    .collect();
                let ys = pack(&desired, &self.separations(c));
                for (k, &i) in self.columns[c].items.iter().enumerate() {
                    self.items[i].y = ys[k];
                }
            }
        }
        let top = self
            .items
            .iter()
            .map(|it| it.y - it.h / 2.0)
            .fold(f64::INFINITY, f64::min);
        if top.is_finite() {
            for it in &mut self.items {
                it.y -= top;
            }
        }
        self.height = self
            .items
            .iter()
            .map(|it| it.y + it.h / 2.0)
            .fold(0.0, f64::max);
    }

    /// The minimum distance between each item's centre and the previous one's in column `c`.
    fn separations(&self, c: usize) -> Vec<f64> {
        let items = &self.columns[c].items;
        (0..items.len())
            .map(|k| {
                if k == 0 {
                    return 0.0;
                }
                let (a, b) = (items[k - 1], items[k]);
                let gap = match (self.is_node(a), self.is_node(b)) {
                    (true, true) => NODE_GAP,
                    (false, false) => LANE_GAP,
                    _ => LANE_BOX_GAP,
                };
                (self.items[a].h + self.items[b].h) / 2.0 + gap
            })
            .collect()
    }

    /// Spreads the edges that meet a box side over its height, in the order of where they
    /// come from, so they neither meet in one point nor cross at the box; labelled bundles
    /// get room for their label.
    fn place_ports(&mut self) {
        #[derive(Clone, Copy)]
        enum End {
            Start(usize),
            Bundle(usize),
        }
        // (item, right side) -> [(height of the other end, what)]
        let mut sides: BTreeMap<(usize, bool), Vec<(f64, End)>> = BTreeMap::new();
        for (r, route) in self.routes.iter().enumerate() {
            let (first, next) = (route.chain[0], route.chain[1]);
            let right = self.items[next].col > self.items[first].col;
            sides
                .entry((first, right))
                .or_default()
                .push((self.items[next].y, End::Start(r)));
        }
        for (b, bundle) in self.bundles.iter().enumerate() {
            let from: Vec<f64> = bundle
                .routes
                .iter()
                .map(|&r| {
                    let chain = &self.routes[r].chain;
                    self.items[chain[chain.len() - 2]].y
                })
                .collect();
            let y = from.iter().sum::<f64>() / from.len().max(1) as f64;
            sides
                .entry((bundle.target, bundle.right))
                .or_default()
                .push((y, End::Bundle(b)));
        }
        for ((item, _), mut ends) in sides {
            ends.sort_by(|a, b| a.0.total_cmp(&b.0));
            let labelled = |e: &End| match e {
                End::Bundle(b) => self.bundles[*b].label.is_some(),
                End::Start(_) => false,
            };
            let steps: Vec<f64> = ends
                .windows(2)
                .map(|w| match (&w[0].1, &w[1].1) {
                    (a, b) if labelled(a) || labelled(b) => LABEL_STEP,
                    (End::Bundle(_), End::Bundle(_)) => ARROW_STEP,
                    _ => PORT_STEP,
                })
                .collect();
            let span: f64 = steps.iter().sum();
            let room = BOX_H - 8.0;
            let scale = if span > room { room / span } else { 1.0 };
            let mut y = self.items[item].y - span * scale / 2.0;
            for (k, (_, end)) in ends.into_iter().enumerate() {
                if k > 0 {
                    y += steps[k - 1] * scale;
                }
                match end {
                    End::Start(r) => self.routes[r].start_y = y,
                    End::Bundle(b) => self.bundles[b].port_y = y,
                }
            }
        }
    }
}

/// Assigns services to columns: per phase, by longest path of dependencies inside the
/// phase; a layer with more services than fit in one column is split into sub-columns.
fn columns(view: &View) -> (Vec<Item>, Vec<Column>) {
    let n = view.nodes.len();
    let mut inside: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut dependents = vec![0i64; n];
    let mut dependencies = vec![0i64; n];
    for e in &view.edges {
        if e.from == e.to {
            continue;
        }
        dependents[e.to] += 1;
        dependencies[e.from] += 1;
        if view.nodes[e.from].phase == view.nodes[e.to].phase {
            inside[e.from].push(e.to);
        }
    }
    let mut layer = vec![0usize; n];
    let mut state = vec![0u8; n];
    for v in 0..n {
        depth(v, &inside, &mut layer, &mut state);
    }

    let max_rows = ((n as f64).sqrt() * 1.6).ceil().max(8.0) as usize;
    let mut columns: Vec<Column> = Vec::new();
    let mut col_of = vec![0usize; n];
    for (p, phase) in view.phases.iter().enumerate() {
        let layers = phase.nodes.iter().map(|&v| layer[v]).max().unwrap_or(0);
        for l in 0..=layers {
            let mut members: Vec<usize> = phase
                .nodes
                .iter()
                .copied()
                .filter(|&v| layer[v] == l)
                .collect();
            if members.is_empty() {
                continue;
            }
            // Sub-columns: services that others lean on go right (next to their
            // dependents), services that lean on others go left (next to what they need).
            let parts = members.len().div_ceil(max_rows);
            members.sort_by_key(|&v| dependents[v] - dependencies[v]);
            let (base, extra) = (members.len() / parts, members.len() % parts);
            let mut rest = members.as_slice();
            for k in 0..parts {
                let (part, tail) = rest.split_at(base + usize::from(k < extra));
                rest = tail;
                let mut part = part.to_vec();
                part.sort_unstable();
                for &v in &part {
                    col_of[v] = columns.len();
                }
                columns.push(Column {
                    phase: p,
                    items: part,
                    x: 0.0,
                    width: 0.0,
                    stub: [0.0; 2],
                });
            }
        }
    }
    let items = col_of
        .iter()
        .enumerate()
        .map(|(v, &col)| Item {
            kind: Kind::Node(v),
            col,
            y: 0.0,
            h: BOX_H,
        })
        .collect();
    (items, columns)
}

/// Longest path to a service without dependencies in the phase; an edge that closes a
/// cycle (which `check` reports) is not followed.
fn depth(v: usize, inside: &[Vec<usize>], layer: &mut [usize], state: &mut [u8]) -> Option<usize> {
    match state[v] {
        2 => return Some(layer[v]),
        1 => return None,
        _ => {}
    }
    state[v] = 1;
    let mut l = 0;
    for &d in &inside[v] {
        if let Some(dl) = depth(d, inside, layer, state) {
            l = l.max(dl + 1);
        }
    }
    state[v] = 2;
    layer[v] = l;
    Some(l)
}

/// The number of lanes routing every edge would need, at worst (bundles share lanes).
fn lanes_at_most(view: &View, items: &[Item]) -> usize {
    view.edges
        .iter()
        .map(|e| {
            items[e.from]
                .col
                .abs_diff(items[e.to].col)
                .saturating_sub(1)
        })
        .sum()
}

/// One route per edge (self-loops are not drawn), bundled by target, side and condition,
/// with one lane per bundle in every column the bundle crosses when `routed`.
fn routes(
    view: &View,
    items: &mut Vec<Item>,
    columns: &mut [Column],
    routed: bool,
) -> (Vec<Route>, Vec<Bundle>) {
    let mut routes: Vec<Route> = Vec::new();
    let mut bundles: Vec<Bundle> = Vec::new();
    let mut bundle_of: HashMap<(usize, bool, Condition, bool, Option<usize>), usize> =
        HashMap::new();
    let mut lane_of: HashMap<(usize, usize), usize> = HashMap::new();
    for (e, edge) in view.edges.iter().enumerate() {
        if edge.from == edge.to {
            continue;
        }
        let (from, to) = (edge.from, edge.to);
        let (cf, ct) = (items[from].col, items[to].col);
        let right = ct < cf;
        let looped = ct == cf;
        let alone = looped.then_some(e);
        let b = *bundle_of
            .entry((to, right, edge.condition, edge.optional, alone))
            .or_insert_with(|| {
                bundles.push(Bundle {
                    target: to,
                    right,
                    looped,
                    label: edge.label(),
                    routes: Vec::new(),
                    port_y: 0.0,
                });
                bundles.len() - 1
            });
        let between: Vec<usize> = if !routed {
            Vec::new()
        } else if cf > ct {
            (ct + 1..cf).rev().collect()
        } else {
            (cf + 1..ct).collect()
        };
        let mut chain = vec![from];
        for c in between {
            let lane = *lane_of.entry((b, c)).or_insert_with(|| {
                items.push(Item {
                    kind: Kind::Lane,
                    col: c,
                    y: 0.0,
                    h: 0.0,
                });
                columns[c].items.push(items.len() - 1);
                items.len() - 1
            });
            chain.push(lane);
        }
        chain.push(to);
        bundles[b].routes.push(routes.len());
        routes.push(Route {
            edge: e,
            bundle: b,
            chain,
            start_y: 0.0,
        });
    }
    (routes, bundles)
}

/// Neighbours of each item in adjacent columns, along the routes, each once.
fn links(items: &[Item], routes: &[Route]) -> Vec<Vec<usize>> {
    let mut links: Vec<Vec<usize>> = vec![Vec::new(); items.len()];
    for route in routes {
        for pair in route.chain.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            if items[a].col.abs_diff(items[b].col) == 1 && !links[a].contains(&b) {
                links[a].push(b);
                links[b].push(a);
            }
        }
    }
    links
}

/// Orders every column by barycenter sweeps, keeping the ordering with fewest crossings.
fn order(items: &[Item], columns: &mut [Column], links: &[Vec<usize>]) {
    let n = columns.len();
    let mut pos = vec![0.0f64; items.len()];
    for col in columns.iter() {
        let len = col.items.len() as f64;
        for (k, &i) in col.items.iter().enumerate() {
            pos[i] = (k as f64 + 0.5) / len;
        }
    }
    let mut best: Vec<Vec<usize>> = columns.iter().map(|c| c.items.clone()).collect();
    let mut best_crossings = crossings(items, columns, links);
    for sweep in 0..SWEEPS {
        let down = sweep % 2 == 0;
        let order: Vec<usize> = if down {
            (1..n).collect()
        } else {
            (0..n.saturating_sub(1)).rev().collect()
        };
        for c in order {
            let reference = if down { c - 1 } else { c + 1 };
            let mut keyed: Vec<(f64, usize, usize)> = columns[c]
                .items
                .iter()
                .enumerate()
                .map(|(k, &i)| {
                    let near: Vec<f64> = links[i]
                        .iter()
                        .filter(|&&j| items[j].col == reference)
                        .map(|&j| pos[j])
                        .collect();
                    let key = if near.is_empty() {
                        pos[i]
                    } else {
                        near.iter().sum::<f64>() / near.len() as f64
                    };
                    (key, k, i)
                })
                .collect();
            keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            columns[c].items = keyed.into_iter().map(|(_, _, i)| i).collect();
            let len = columns[c].items.len() as f64;
            for (k, &i) in columns[c].items.iter().enumerate() {
                pos[i] = (k as f64 + 0.5) / len;
            }
        }
        let count = crossings(items, columns, links);
        if count < best_crossings {
            best_crossings = count;
            best = columns.iter().map(|c| c.items.clone()).collect();
        }
    }
    for (col, items) in columns.iter_mut().zip(best) {
        col.items = items;
    }
}

/// Crossings between the links of each pair of adjacent columns.
fn crossings(items: &[Item], columns: &[Column], links: &[Vec<usize>]) -> usize {
    let mut index = vec![0usize; items.len()];
    for col in columns {
        for (k, &i) in col.items.iter().enumerate() {
            index[i] = k;
        }
    }
    let mut total = 0;
    for (c, column) in columns.iter().enumerate() {
        let mut pairs: Vec<(usize, usize)> = Vec::new();
        for &i in &column.items {
            for &j in &links[i] {
                if items[j].col == c + 1 {
                    pairs.push((index[i], index[j]));
                }
            }
        }
        total += inversions(&mut pairs);
    }
    total
}

/// Pairs `(a, b)` and `(c, d)` cross when `a < c` and `b > d`. Counted in O(n log n): sort
/// by the first position, then for each group of equal first positions count the earlier
/// pairs with a larger second position (a Fenwick tree over second positions) before adding
/// the group.
fn inversions(pairs: &mut [(usize, usize)]) -> usize {
    pairs.sort_unstable();
    let size = pairs.iter().map(|p| p.1).max().map_or(0, |m| m + 1);
    let mut tree = vec![0usize; size + 1];
    let mut inserted = 0;
    let mut total = 0;
    let mut start = 0;
    while start < pairs.len() {
        let end = start
            + pairs[start..]
                .iter()
                .take_while(|p| p.0 == pairs[start].0)
                .count();
        for &(_, second) in &pairs[start..end] {
            // Earlier pairs with a second position <= `second`.
            let mut at = second + 1;
            let mut not_greater = 0;
            while at > 0 {
                not_greater += tree[at];
                at &= at - 1;
            }
            total += inserted - not_greater;
        }
        for &(_, second) in &pairs[start..end] {
            let mut at = second + 1;
            while at <= size {
                tree[at] += 1;
                at += at & at.wrapping_neg();
            }
            inserted += 1;
        }
        start = end;
    }
    total
}

/// Centres for the items of one column, in order, as close as possible (least squares) to
/// `desired` while each stays at least `sep[k]` below the previous one: after subtracting
/// the cumulative separations this is isotonic regression, solved by pooling adjacent
/// violators.
fn pack(desired: &[f64], sep: &[f64]) -> Vec<f64> {
    let mut offsets = Vec::with_capacity(desired.len());
    let mut acc = 0.0;
    for &s in sep {
        acc += s;
        offsets.push(acc);
    }
    // Blocks of pooled items: (sum of targets, count).
    let mut blocks: Vec<(f64, usize)> = Vec::new();
    for (d, o) in desired.iter().zip(&offsets) {
        blocks.push((d - o, 1));
        while blocks.len() > 1 {
            let (s2, n2) = blocks[blocks.len() - 1];
            let (s1, n1) = blocks[blocks.len() - 2];
            if s1 / n1 as f64 > s2 / n2 as f64 {
                blocks.pop();
                let last = blocks.len() - 1;
                blocks[last] = (s1 + s2, n1 + n2);
            } else {
                break;
            }
        }
    }
    let mut out = Vec::with_capacity(desired.len());
    for (sum, count) in blocks {
        let z = sum / count as f64;
        for _ in 0..count {
            out.push(z + offsets[out.len()]);
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Drawing
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy)]
struct Rect {
    x: f64,
    y: f64,
    w: f64,
    h: f64,
}

type Point = (f64, f64);

fn draw(view: &View, layout: &Layout) -> String {
    let left = MARGIN;
    let band_top = MARGIN + TITLE_H;
    let top = band_top + HEADER_H + BAND_PAD;
    let band_h = HEADER_H + BAND_PAD + layout.height + BAND_PAD;

    let title = view.name.to_string();
    let mut subtitle = vec![
        "dependency graph".to_string(),
        count(view.nodes.len(), "service", "services"),
        count(view.edges.len(), "dependency", "dependencies"),
    ];
    if view.phased {
        subtitle.push(count(view.phases.len(), "phase", "phases"));
    }
    if let Some(env) = view.environment {
        subtitle.push(format!("environment {env}"));
    }
    let subtitle = subtitle.join(" \u{b7} ");
    let note = if layout.routed {
        "arrows point from a service to what it needs; phases start left to right"
    } else {
        "arrows point from a service to what it needs; phases start left to right; \
         too many edges to route around boxes: graph.dot lays them out"
    };
    let text_w = sans_width(&title, 18.0, true)
        .max(sans_width(&subtitle, 12.0, false))
        .max(sans_width(note, 11.0, false));

    let content_w = layout.width.max(text_w).max(420.0);
    let legend = legend_items();
    let legend_top = band_top + band_h + 26.0;
    let (legend_rows, legend_w) = flow(&legend, content_w);
    let legend_h = legend_rows.len() as f64 * 26.0;
    let width = MARGIN * 2.0 + content_w.max(legend_w);
    let height = legend_top + legend_h + MARGIN;

    let mut out = String::new();
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" role=\"img\">",
        w = num(width),
        h = num(height)
    );
    let _ = writeln!(
        out,
        "<title>{}</title>",
        xml(&format!("{title}: {subtitle}"))
    );
    style(&mut out);
    let _ = writeln!(
        out,
        "<rect x=\"0\" y=\"0\" width=\"{}\" height=\"{}\" fill=\"#ffffff\"/>",
        num(width),
        num(height)
    );
    for (class, y, text) in [
        ("title", MARGIN + 18.0, title.as_str()),
        ("subtitle", MARGIN + 36.0, subtitle.as_str()),
        ("note", MARGIN + 51.0, note),
    ] {
        let _ = writeln!(
            out,
            "<text class=\"{class}\" x=\"{}\" y=\"{}\">{}</text>",
            num(left),
            num(y),
            xml(text)
        );
    }
    if view.nodes.is_empty() {
        let _ = writeln!(
            out,
            "<text class=\"meta\" x=\"{}\" y=\"{}\">no enabled services</text>",
            num(left),
            num(band_top + 20.0)
        );
    }

    out.push_str("<g class=\"phases\">\n");
    for (phase, band) in view.phases.iter().zip(&layout.bands) {
        let x = left + band.x;
        let cx = x + band.width / 2.0;
        let mut tip = phase.label();
        if let Some(d) = phase.description {
            tip.push_str(": ");
            tip.push_str(d);
        }
        let _ = writeln!(
            out,
            "<g><title>{}</title><rect class=\"band\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"8\"/><text class=\"phase\" x=\"{}\" y=\"{}\">{}</text><text class=\"meta\" x=\"{}\" y=\"{}\">{}</text></g>",
            xml(&tip),
            num(x),
            num(band_top),
            num(band.width),
            num(band_h),
            num(cx),
            num(band_top + 22.0),
            xml(&format!("phase {}", phase.name)),
            num(cx),
            num(band_top + 38.0),
            xml(&phase_meta(phase))
        );
    }
    out.push_str("</g>\n");

    let boxes: Vec<Rect> = (0..view.nodes.len())
        .map(|v| {
            let item = &layout.items[v];
            let col = &layout.columns[item.col];
            let w = layout.widths[v];
            Rect {
                x: left + col.x + (col.width - w) / 2.0,
                y: top + item.y - BOX_H / 2.0,
                w,
                h: BOX_H,
            }
        })
        .collect();

    out.push_str("<g class=\"edges\">\n");
    let mut loop_labels: Vec<Option<Point>> = vec![None; layout.bundles.len()];
    for route in &layout.routes {
        let edge = &view.edges[route.edge];
        let (d, middle) = route_path(layout, route, &boxes, left, top);
        if middle.is_some() {
            loop_labels[route.bundle] = middle;
        }
        let class = edge.condition.as_str();
        let mut tip = format!(
            "{} needs {}",
            view.nodes[edge.from].name, view.nodes[edge.to].name
        );
        if let Some(label) = edge.label() {
            let _ = write!(tip, " ({label})");
        }
        if edge.optional {
            tip.push_str(", optional");
        }
        let _ = writeln!(
            out,
            "<path class=\"edge {class}{}\" d=\"{d}\" marker-start=\"url(#arrow-{class})\"><title>{}</title></path>",
            if edge.optional { " optional" } else { "" },
            xml(&tip)
        );
    }
    out.push_str("</g>\n");

    out.push_str("<g class=\"labels\">\n");
    for (b, bundle) in layout.bundles.iter().enumerate() {
        let Some(label) = bundle.label else { continue };
        let w = label_width(label);
        let centre = match loop_labels[b] {
            Some(p) => p,
            None => {
                let col = layout.items[bundle.target].col;
                let out_x = if bundle.right { 1.0 } else { -1.0 };
                (
                    left + layout.edge_x(col, bundle.right) + out_x * (ARROW_ROOM + w / 2.0),
                    top + bundle.port_y,
                )
            }
        };
        let _ = writeln!(
            out,
            "<rect class=\"cond-bg\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"3\"/><text class=\"cond {label}\" x=\"{}\" y=\"{}\">{label}</text>",
            num(centre.0 - w / 2.0),
            num(centre.1 - LABEL_H / 2.0),
            num(w),
            num(LABEL_H),
            num(centre.0),
            num(centre.1 + LABEL_SIZE * 0.35)
        );
    }
    out.push_str("</g>\n");

    out.push_str("<g class=\"services\">\n");
    for (v, node) in view.nodes.iter().enumerate() {
        let b = boxes[v];
        let service = node.service;
        let mut class = String::from("svc");
        let mut flags = vec![format!("phase {}", view.phases[node.phase].name)];
        if service.job {
            class.push_str(" job");
            flags.push("job".into());
        }
        if service.critical {
            class.push_str(" critical");
            flags.push("critical".into());
        }
        let mut tip = node.name.to_string();
        if let Some(d) = &service.description {
            tip.push_str(": ");
            tip.push_str(d);
        }
        let _ = write!(tip, " ({})", flags.join(", "));
        let _ = writeln!(
            out,
            "<g><title>{}</title><rect class=\"{class}\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"{}\"/><text class=\"name{}\" x=\"{}\" y=\"{}\">{}</text></g>",
            xml(&tip),
            num(b.x),
            num(b.y),
            num(b.w),
            num(b.h),
            num(if service.job { BOX_H / 2.0 } else { 4.0 }),
            if service.critical {
                " critical-name"
            } else {
                ""
            },
            num(b.x + b.w / 2.0),
            num(b.y + b.h / 2.0 + NAME_SIZE * 0.35),
            xml(node.name)
        );
    }
    out.push_str("</g>\n");

    draw_legend(&mut out, &legend, &legend_rows, left, legend_top);
    out.push_str("</svg>\n");
    out
}

const CONDITION_COLOURS: [(&str, &str); 3] = [
    ("started", "#4a5568"),
    ("healthy", "#2f855a"),
    ("completed", "#2b6cb0"),
];

/// The stylesheet and the arrowheads (one per condition colour).
fn style(out: &mut String) {
    out.push_str("<style>\n");
    let _ = writeln!(out, "text {{ font-family: {SANS}; fill: #1a202c; }}");
    out.push_str(".title { font-size: 18px; font-weight: bold; }\n");
    out.push_str(".subtitle { font-size: 12px; fill: #4a5568; }\n");
    out.push_str(".note { font-size: 11px; fill: #718096; }\n");
    out.push_str(".band { fill: #f4f7fb; stroke: #d5dee9; stroke-width: 1; }\n");
    out.push_str(".phase { font-size: 14px; font-weight: bold; text-anchor: middle; }\n");
    out.push_str(".meta { font-size: 11px; fill: #4a5568; text-anchor: middle; }\n");
    out.push_str(".svc { fill: #ffffff; stroke: #4a5568; stroke-width: 1.2; }\n");
    out.push_str(".svc.job { fill: #f7fafc; stroke-dasharray: 5 3; }\n");
    out.push_str(".svc.critical { fill: #fff5f5; stroke: #c62828; stroke-width: 2.8; }\n");
    let _ = writeln!(
        out,
        ".name {{ font-family: {MONO}; font-size: {NAME_SIZE}px; text-anchor: middle; }}"
    );
    out.push_str(".critical-name { font-weight: bold; fill: #9b1c1c; }\n");
    out.push_str(".edge { fill: none; stroke-width: 1.4; }\n");
    out.push_str(".edge.optional { stroke-dasharray: 6 4; }\n");
    for (class, colour) in CONDITION_COLOURS {
        let _ = writeln!(out, ".edge.{class} {{ stroke: {colour}; }}");
        if class != "started" {
            let _ = writeln!(out, ".cond.{class} {{ fill: {colour}; }}");
        }
    }
    let _ = writeln!(
        out,
        ".cond {{ font-size: {LABEL_SIZE}px; text-anchor: middle; }}"
    );
    out.push_str(".cond-bg { fill: #ffffff; fill-opacity: 0.92; }\n");
    out.push_str(".legend { font-size: 12px; fill: #2d3748; }\n");
    out.push_str("</style>\n<defs>\n");
    for (class, colour) in CONDITION_COLOURS {
        let _ = writeln!(
            out,
            "<marker id=\"arrow-{class}\" viewBox=\"0 0 10 8\" refX=\"0\" refY=\"4\" markerWidth=\"10\" markerHeight=\"8\" markerUnits=\"userSpaceOnUse\" orient=\"auto\"><path d=\"M10,0 L0,4 L10,8 Z\" fill=\"{colour}\"/></marker>"
        );
    }
    out.push_str("</defs>\n");
}

/// The path of a route as SVG path data (from the dependency to the dependent), and for a loop the middle of its curve (where
/// its label goes). Curves run only in the gaps between columns; through a column a route is a
/// straight lane, and it enters its target on a straight stub that carries the bundle's
/// label.
fn route_path(
    layout: &Layout,
    route: &Route,
    boxes: &[Rect],
    left: f64,
    top: f64,
) -> (String, Option<Point>) {
    let items = &layout.items;
    let bundle = &layout.bundles[route.bundle];
    let (first, last) = (route.chain[0], route.chain[route.chain.len() - 1]);
    let (src, dst) = match (items[first].kind, items[last].kind) {
        (Kind::Node(a), Kind::Node(b)) => (boxes[a], boxes[b]),
        _ => unreachable!("routes start and end at services"),
    };
    let (cf, ct) = (items[first].col, items[last].col);
    let start_y = top + route.start_y;
    let end_y = top + bundle.port_y;
    let mut d = String::new();

    if bundle.looped {
        // Only a dependency cycle puts both ends in one column: loop out to the left.
        let p0 = (dst.x, end_y);
        let p3 = (src.x, start_y);
        let bulge = 28.0 + (p0.1 - p3.1).abs() * 0.15;
        let c = [p0, (p0.0 - bulge, p0.1), (p3.0 - bulge, p3.1), p3];
        let _ = write!(d, "M{} C{} {} {}", pt(c[0]), pt(c[1]), pt(c[2]), pt(c[3]));
        return (d, Some(bezier(&c, 0.5)));
    }

    // Drawn from the arrowhead back to the dependent, so the routes of a bundle share the
    // beginning of their paths exactly, dash pattern included.
    let leftward = ct < cf;
    // The side of a column that faces the dependency, and the one facing the dependent.
    let dependency_side = |c: usize| left + layout.edge_x(c, !leftward);
    let dependent_side = |c: usize| left + layout.edge_x(c, leftward);
    let tip = (if leftward { dst.x + dst.w } else { dst.x }, end_y);
    let start = (if leftward { src.x } else { src.x + src.w }, start_y);
    let outward = if leftward { 1.0 } else { -1.0 };
    let stub = layout.columns[ct].stub[usize::from(leftward)];

    let mut at = tip;
    let _ = write!(d, "M{}", pt(at));
    let line_to = |d: &mut String, at: &mut Point, to: Point| {
        if (to.0 - at.0).abs() > 0.05 {
            let _ = write!(d, " L{}", pt(to));
            *at = to;
        }
    };
    let curve_to = |d: &mut String, at: &mut Point, to: Point| {
        let dx = (to.0 - at.0) / 2.0;
        let _ = write!(
            d,
            " C{} {} {}",
            pt((at.0 + dx, at.1)),
            pt((to.0 - dx, to.1)),
            pt(to)
        );
        *at = to;
    };
    line_to(
        &mut d,
        &mut at,
        (dependent_side(ct) + outward * stub, end_y),
    );
    for &lane in route.chain[1..route.chain.len() - 1].iter().rev() {
        let c = items[lane].col;
        let y = top + items[lane].y;
        curve_to(&mut d, &mut at, (dependency_side(c), y));
        line_to(&mut d, &mut at, (dependent_side(c), y));
    }
    curve_to(&mut d, &mut at, (dependency_side(cf), start.1));
    line_to(&mut d, &mut at, start);
    (d, None)
}

fn bezier(c: &[Point; 4], t: f64) -> Point {
    let u = 1.0 - t;
    let (a, b, cc, d) = (u * u * u, 3.0 * u * u * t, 3.0 * u * t * t, t * t * t);
    (
        a * c[0].0 + b * c[1].0 + cc * c[2].0 + d * c[3].0,
        a * c[0].1 + b * c[1].1 + cc * c[2].1 + d * c[3].1,
    )
}

// ---------------------------------------------------------------------------------------------
// Legend
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy)]
enum Symbol {
    Service,
    Critical,
    Job,
    Arrow(&'static str, bool),
}

fn legend_items() -> Vec<(Symbol, &'static str)> {
    vec![
        (Symbol::Service, "service"),
        (Symbol::Critical, "critical service"),
        (Symbol::Job, "job (runs to completion)"),
        (
            Symbol::Arrow("started", false),
            "needs (waits until started)",
        ),
        (Symbol::Arrow("healthy", false), "waits until healthy"),
        (Symbol::Arrow("completed", false), "waits until completed"),
        (
            Symbol::Arrow("started", true),
            "optional (used when present)",
        ),
    ]
}

const SYMBOL_W: f64 = 40.0;
const LEGEND_SPACING: f64 = 26.0;

fn legend_width(text: &str) -> f64 {
    SYMBOL_W + 8.0 + sans_width(text, 12.0, false)
}

/// Legend items in rows no wider than `max` (at least one item per row), and the widest row.
fn flow(items: &[(Symbol, &'static str)], max: f64) -> (Vec<Vec<usize>>, f64) {
    let mut rows: Vec<Vec<usize>> = Vec::new();
    let mut row_w = 0.0;
    let mut widest: f64 = 0.0;
    for (k, (_, text)) in items.iter().enumerate() {
        let w = legend_width(text);
        match rows.last_mut() {
            Some(row) if row_w + LEGEND_SPACING + w <= max => {
                row.push(k);
                row_w += LEGEND_SPACING + w;
            }
            _ => {
                rows.push(vec![k]);
                row_w = w;
            }
        }
        widest = widest.max(row_w);
    }
    (rows, widest)
}

fn draw_legend(
    out: &mut String,
    items: &[(Symbol, &'static str)],
    rows: &[Vec<usize>],
    left: f64,
    top: f64,
) {
    out.push_str("<g class=\"legend-items\">\n");
    for (r, row) in rows.iter().enumerate() {
        let cy = top + r as f64 * 26.0 + 10.0;
        let mut x = left;
        for &k in row {
            let (symbol, text) = items[k];
            match symbol {
                Symbol::Service | Symbol::Critical | Symbol::Job => {
                    let (class, rx) = match symbol {
                        Symbol::Service => ("svc", 3.0),
                        Symbol::Critical => ("svc critical", 3.0),
                        _ => ("svc job", 9.0),
                    };
                    let _ = write!(
                        out,
                        "<rect class=\"{class}\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"18\" rx=\"{}\"/>",
                        num(x + 4.0),
                        num(cy - 9.0),
                        num(SYMBOL_W - 8.0),
                        num(rx)
                    );
                }
                Symbol::Arrow(class, optional) => {
                    let _ = write!(
                        out,
                        "<path class=\"edge {class}{}\" d=\"M{} L{}\" marker-start=\"url(#arrow-{class})\"/>",
                        if optional { " optional" } else { "" },
                        pt((x + 2.0, cy)),
                        pt((x + SYMBOL_W, cy))
                    );
                }
            }
            let _ = writeln!(
                out,
                "<text class=\"legend\" x=\"{}\" y=\"{}\">{}</text>",
                num(x + SYMBOL_W + 8.0),
                num(cy + 4.0),
                xml(text)
            );
            x += legend_width(text) + LEGEND_SPACING;
        }
    }
    out.push_str("</g>\n");
}

// ---------------------------------------------------------------------------------------------
// Text
// ---------------------------------------------------------------------------------------------

/// `order 1 · timeout 90s` under the phase name.
fn phase_meta(phase: &PhaseView) -> String {
    match phase.order {
        Some(order) => format!(
            "order {order} \u{b7} timeout {}",
            timeout_text(phase.timeout)
        ),
        None => format!("timeout {}", timeout_text(phase.timeout)),
    }
}

/// Width of a condition label's background.
fn label_width(label: &str) -> f64 {
    sans_width(label, LABEL_SIZE, false) + 6.0
}

fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn box_width(name: &str) -> f64 {
    (name.chars().count() as f64 * NAME_SIZE * MONO_EM + 2.0 * BOX_PAD).max(BOX_MIN_W)
}

/// An estimate of the width of `text` in the sans-serif font, on the generous side
/// (DejaVu Sans, the widest common default, is what the numbers follow).
fn sans_width(text: &str, size: f64, bold: bool) -> f64 {
    let ems: f64 = text
        .chars()
        .map(|c| match c {
            'i' | 'j' | 'l' | '.' | ',' | ':' | ';' | '\'' | '|' | '!' | 'I' | '\u{b7}' => 0.3,
            'f' | 't' | 'r' | ' ' | '(' | ')' | '[' | ']' | '-' | '/' => 0.42,
            'm' | 'w' | 'M' | 'W' | '@' => 0.98,
            'A'..='Z' => 0.74,
            _ => 0.64,
        })
        .sum();
    ems * size * if bold { 1.1 } else { 1.0 }
}

/// XML character data and attribute values.
fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Not allowed in XML 1.0 at all.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// A coordinate with one decimal; `-0.0` is written as `0.0` so output never depends on
/// the sign of a zero.
fn num(v: f64) -> String {
    let s = format!("{v:.1}");
    if s == "-0.0" { "0.0".into() } else { s }
}

fn pt(p: Point) -> String {
    format!("{},{}", num(p.0), num(p.1))
}

#[cfg(test)]
mod tests {
    use super::super::tests::{DEMO, assert_well_formed, registry, synthetic};
    use super::*;

    /// Box rectangles of a layout, in drawing-area coordinates.
    fn boxes(layout: &Layout, view: &View) -> Vec<Rect> {
        (0..view.nodes.len())
            .map(|v| {
                let item = &layout.items[v];
                let col = &layout.columns[item.col];
                let w = layout.widths[v];
                Rect {
                    x: col.x + (col.width - w) / 2.0,
                    y: item.y - item.h / 2.0,
                    w,
                    h: item.h,
                }
            })
            .collect()
    }

    fn overlaps(a: &Rect, b: &Rect) -> bool {
        a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h
    }

    /// Checks the geometry a reader relies on: boxes apart and inside their phase band,
    /// lanes clear of boxes, routes moving one column at a time, ports on their box.
    fn assert_readable(text: &str) {
        let reg = registry(text);
        let view = View::new(&reg);
        let layout = Layout::new(&view);
        let boxes = boxes(&layout, &view);
        let eps = 1e-6;
        for (v, b) in boxes.iter().enumerate() {
            let band = &layout.bands[view.nodes[v].phase];
            assert!(
                b.x >= band.x + BAND_PAD - eps,
                "{} left of its band",
                view.nodes[v].name
            );
            assert!(
                b.x + b.w <= band.x + band.width - BAND_PAD + eps,
                "{} right of its band",
                view.nodes[v].name
            );
            assert!(b.y >= -eps && b.y + b.h <= layout.height + eps);
            for (u, o) in boxes.iter().enumerate().skip(v + 1) {
                assert!(
                    !overlaps(b, o),
                    "{} overlaps {}",
                    view.nodes[v].name,
                    view.nodes[u].name
                );
            }
        }
        for band in layout.bands.windows(2) {
            assert!(band[0].x + band[0].width < band[1].x, "bands overlap");
        }
        for col in layout.columns.windows(2) {
            assert!(
                col[0].x + col[0].width + CURVE_ROOM <= col[1].x + eps,
                "columns too close"
            );
        }
        for (i, item) in layout.items.iter().enumerate() {
            if item.kind == Kind::Lane {
                for (v, b) in boxes.iter().enumerate() {
                    if layout.items[v].col == item.col {
                        assert!(
                            item.y <= b.y - LANE_BOX_GAP + eps
                                || item.y >= b.y + b.h + LANE_BOX_GAP - eps,
                            "lane {i} crosses {}",
                            view.nodes[v].name
                        );
                    }
                }
            }
        }
        for route in &layout.routes {
            for pair in route.chain.windows(2) {
                let (a, b) = (layout.items[pair[0]].col, layout.items[pair[1]].col);
                assert!(a.abs_diff(b) <= 1, "a route skips a column");
            }
            let source = &boxes[route.chain[0]];
            assert!(route.start_y >= source.y && route.start_y <= source.y + source.h);
        }
        for bundle in &layout.bundles {
            let target = &boxes[bundle.target];
            assert!(bundle.port_y >= target.y && bundle.port_y <= target.y + target.h);
        }
        assert_well_formed(&svg(&reg));
    }

    #[test]
    fn inversions_count_strict_crossings() {
        let brute = |pairs: &[(usize, usize)]| {
            let mut n = 0;
            for (k, a) in pairs.iter().enumerate() {
                for b in &pairs[k + 1..] {
                    if (a.0 < b.0 && a.1 > b.1) || (a.0 > b.0 && a.1 < b.1) {
                        n += 1;
                    }
                }
            }
            n
        };
        let mut seed = 7u64;
        for len in 0..40 {
            let mut pairs: Vec<(usize, usize)> = (0..len)
                .map(|_| {
                    seed = seed
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    (((seed >> 33) % 6) as usize, ((seed >> 40) % 6) as usize)
                })
                .collect();
            let expected = brute(&pairs);
            assert_eq!(inversions(&mut pairs), expected);
        }
    }

    #[test]
    fn layouts_are_readable() {
        assert_readable(DEMO);
        for n in [1, 2, 15, 45, 120] {
            assert_readable(&synthetic(n));
        }
    }

    #[test]
    fn arrows_point_to_earlier_columns_when_phases_are_respected() {
        let reg = registry(&synthetic(45));
        let view = View::new(&reg);
        let layout = Layout::new(&view);
        for route in &layout.routes {
            let chain = &route.chain;
            let (from, to) = (chain[0], chain[chain.len() - 1]);
            assert!(layout.items[to].col < layout.items[from].col);
        }
    }

    #[test]
    fn edges_into_one_service_share_an_arrowhead_per_condition() {
        let reg = registry(DEMO);
        let view = View::new(&reg);
        let layout = Layout::new(&view);
        let postgres = view
            .nodes
            .iter()
            .position(|n| n.name == "postgres")
            .expect("postgres");
        let into: Vec<&Bundle> = layout
            .bundles
            .iter()
            .filter(|b| b.target == postgres)
            .collect();
        assert_eq!(into.len(), 1);
        assert_eq!(into[0].routes.len(), 2, "migrate and api");
        assert_eq!(into[0].label, Some("healthy"));
    }

    #[test]
    fn tall_phases_wrap_into_sub_columns() {
        let mut text = String::from("version: 1\nname: wide\nservices:\n");
        for i in 0..40 {
            text.push_str(&format!("  s{i}: {{ image: s:1 }}\n"));
        }
        let reg = registry(&text);
        let view = View::new(&reg);
        let layout = Layout::new(&view);
        assert!(
            layout.columns.len() >= 3,
            "{} columns",
            layout.columns.len()
        );
        assert!(layout.columns.iter().all(|c| c.items.len() <= 11));
        assert!(layout.height < layout.width, "wider than tall");
    }

    #[test]
    fn long_chains_past_the_lane_budget_draw_edges_directly() {
        // s_i needs s_{i-1} and s_{i/2}: hundreds of columns, each far edge crossing most.
        let mut text = String::from("version: 1\nname: chain\nservices:\n  s0: { image: s:1 }\n");
        for i in 1..700 {
            text.push_str(&format!(
                "  s{i}: {{ image: s:1, depends_on: [s{}, s{}] }}\n",
                i - 1,
                i / 2
            ));
        }
        let reg = registry(&text.replace("[s0, s0]", "[s0]"));
        let view = View::new(&reg);
        assert!(lanes_at_most(&view, &columns(&view).0) > LANE_BUDGET);
        let layout = Layout::new(&view);
        assert!(!layout.routed);
        assert!(layout.items.iter().all(|it| it.kind != Kind::Lane));
        assert_eq!(layout.routes.len(), view.edges.len());
        let out = svg(&reg);
        assert_well_formed(&out);
        assert!(out.contains("too many edges to route"));
    }

    #[test]
    fn cycles_and_backward_edges_still_draw() {
        let text = "version: 1\nname: loops\nphases:\n  one: { order: 1 }\n  two: { order: 2 }\nservices:\n  a: { image: a:1, phase: one, depends_on: [b, { service: late, optional: true }] }\n  b: { image: b:1, phase: one, depends_on: [a] }\n  late: { image: l:1, phase: two }\n";
        let loaded = crate::registry::load(
            std::sync::Arc::new(crate::source::SourceFile::new("muster.yaml", text)),
            None,
        );
        let reg = loaded.registry.expect("a registry");
        let out = svg(&reg);
        assert_well_formed(&out);
        for tip in ["a needs b", "b needs a", "a needs late, optional"] {
            assert!(out.contains(&format!("<title>{tip}</title>")), "{tip}");
        }
    }

    #[test]
    fn pack_keeps_order_and_spacing() {
        let ys = pack(&[10.0, 10.0, 10.0], &[0.0, 20.0, 20.0]);
        assert_eq!(ys, vec![-10.0, 10.0, 30.0]);
        let ys = pack(&[0.0, 100.0], &[0.0, 20.0]);
        assert_eq!(ys, vec![0.0, 100.0]);
        let ys = pack(&[50.0, 0.0], &[0.0, 10.0]);
        assert_eq!(ys, vec![20.0, 30.0]);
    }

    #[test]
    fn numbers_are_stable() {
        assert_eq!(num(-0.01), "0.0");
        assert_eq!(num(12.345), "12.3");
        assert_eq!(pt((1.0, -2.25)), "1.0,-2.2");
    }

    #[test]
    fn xml_escapes_markup() {
        assert_eq!(xml("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&apos;");
        assert_eq!(xml("bell\u{7}"), "bell\u{fffd}");
    }
}
