//! Which figures of a period may be published: primary and secondary suppression.
//!
//! **Primary**: the total is hidden when its `n` is below `min_n`, a breakdown cell when
//! its `n` is below `min_cell_n`.
//!
//! **Secondary**: a reader knows that the cells of each dimension add up to the total
//! (the query computes them in one aggregation). Hiding one cell of a dimension while the
//! total and the other cells are shown hides nothing: it is the total minus the rest. So
//! after the primary rule, more cells are hidden, the smallest of the dimension first,
//! until **no hidden figure can be computed from the published ones** by any linear
//! combination of the equations "the cells of each dimension add up to the total"
//! (checked exactly, by Gaussian elimination over the rationals). In particular:
//!
//! - a dimension never has exactly one hidden cell while its total is shown;
//! - a hidden total is not the sum of a dimension whose cells are all shown: each
//!   dimension then has a hidden cell too;
//! - cells of different dimensions with the same counts (`n`, `numerator`,
//!   `denominator`) are **linked**, as are cells with the counts of the total: a sector
//!   with one service is the same figure twice, and a dimension with one member is the
//!   total. Linked figures are hidden together, so one never reveals the other.
//! - a member that is the sum of members of a finer dimension (a service of its units, a
//!   sector of its services; found from the rows by [`nesting`]) adds that sum to the
//!   equations ([`protect_nested`]).
//!
//! When nothing else can be hidden, the total is hidden too (and, as a last resort, the
//! whole period). Numbers are never substituted: a hidden figure is left out (cells) or
//! published without value, numerator, denominator and n (totals).
//!
//! The check is structural: whether a figure can be computed depends only on which
//! figures are hidden, not on their values, so one check covers `n`, `numerator` and
//! `denominator` alike.
//!
//! **Across periods** ([`protect_across_periods`]): months add up to their quarter and
//! quarters to their year, for the total and each member. A unit hidden in March but shown
//! for the first quarter, January and February would be the quarter minus two months; so
//! more figures are hidden until nothing hidden follows from everything a year publishes,
//! all grains together.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};

/// The additive counts of a figure: what a reader could add and subtract.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Counts {
    /// Observations.
    pub n: i64,
    /// Numerator, when the query returns one.
    pub numerator: Option<f64>,
    /// Denominator, when the query returns one.
    pub denominator: Option<f64>,
}

impl Counts {
    /// Counts with `n` only.
    pub fn n(n: i64) -> Self {
        Self {
            n,
            numerator: None,
            denominator: None,
        }
    }

    /// Identity for linking: figures with the same key are the same numbers.
    fn key(&self) -> (i64, Option<u64>, Option<u64>) {
        (
            self.n,
            self.numerator.map(f64::to_bits),
            self.denominator.map(f64::to_bits),
        )
    }
}

/// One breakdown cell of a period, as far as suppression cares.
#[derive(Debug, Clone, PartialEq)]
pub struct CellCounts<'a> {
    /// Its dimension.
    pub dimension: &'a str,
    /// Its counts.
    pub counts: Counts,
}

/// Why the total of a period is hidden.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TotalHidden {
    /// Its `n` is below `min_n`.
    BelowMinN,
    /// Shown, it would let a hidden breakdown cell be computed.
    ProtectsCell,
}

/// What may be published of one period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Protection {
    /// Whether the total is hidden, and why.
    pub total: Option<TotalHidden>,
    /// Per cell, in the order given: whether it is hidden.
    pub cell_hidden: Vec<bool>,
}

impl Protection {
    /// Whether the cell at `i` is published.
    pub fn shows_cell(&self, i: usize) -> bool {
        !self.cell_hidden[i]
    }
}

/// A breakdown cell that is the sum of others of a finer dimension (a service and its
/// units), as indexes into the period's cells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nest {
    /// The coarser cell.
    pub parent: usize,
    /// The cells it is the sum of.
    pub children: Vec<usize>,
}

/// Decides what of one period may be published: see the module docs.
pub fn protect(total: Counts, cells: &[CellCounts<'_>], min_n: i64, min_cell_n: i64) -> Protection {
    protect_nested(total, cells, &[], min_n, min_cell_n)
}

/// Like [`protect`], knowing also that some cells are sums of others ([`nesting`]).
pub fn protect_nested(
    total: Counts,
    cells: &[CellCounts<'_>],
    nests: &[Nest],
    min_n: i64,
    min_cell_n: i64,
) -> Protection {
    let structure = Structure::new(total, cells, nests);
    let groups = structure.groups.len();
    let mut hidden = vec![false; groups];
    // Primary suppression; linked figures share a group, so hiding one hides them all.
    if total.n < min_n {
        hidden[structure.total_group] = true;
    }
    for (i, c) in cells.iter().enumerate() {
        if c.counts.n < min_cell_n {
            hidden[structure.cell_group[i]] = true;
        }
    }
    // A total hidden only because it is linked to a small cell protects that cell.
    let total_below_min = total.n < min_n;
    // Secondary suppression: while some hidden figure can be computed, hide one more.
    loop {
        let determined = structure.determined(&hidden);
        let Some(&v) = determined.first() else {
            break;
        };
        match structure.next_to_hide(v, &hidden) {
            Some(g) => hidden[g] = true,
            None => {
                // Nothing left that would help: hide the period entirely.
                hidden.iter_mut().for_each(|h| *h = true);
                break;
            }
        }
    }
    let total_hidden = hidden[structure.total_group];
    Protection {
        total: match (total_hidden, total_below_min) {
            (false, _) => None,
            (true, true) => Some(TotalHidden::BelowMinN),
            (true, false) => Some(TotalHidden::ProtectsCell),
        },
        cell_hidden: structure.cell_group.iter().map(|&g| hidden[g]).collect(),
    }
}

/// The linear structure of a period: figures grouped by linking, and one equation per
/// dimension, `Σ cells − total = 0`, as integer coefficients per group.
struct Structure {
    /// Per group: the smallest `n` of its members (they are equal) and its first cell.
    groups: Vec<Group>,
    total_group: usize,
    cell_group: Vec<usize>,
    /// Per dimension: coefficient per group.
    equations: Vec<Vec<i128>>,
}

struct Group {
    n: i64,
    has_cell: bool,
}

impl Structure {
    fn new(total: Counts, cells: &[CellCounts<'_>], nests: &[Nest]) -> Self {
        let mut by_key: BTreeMap<(i64, Option<u64>, Option<u64>), Vec<usize>> = BTreeMap::new();
        // Index 0 is the total; cell i is i + 1.
        by_key.entry(total.key()).or_default().push(0);
        for (i, c) in cells.iter().enumerate() {
            by_key.entry(c.counts.key()).or_default().push(i + 1);
        }
        let dimension_of = |f: usize| (f > 0).then(|| cells[f - 1].dimension);
        // Union: a figure joins the others with its counts when they are in another
        // dimension (or one of them is the total). Figures with equal counts in the same
        // dimension are different members, linked only through a third figure.
        let mut parent: Vec<usize> = (0..=cells.len()).collect();
        fn find(parent: &mut [usize], mut x: usize) -> usize {
            while parent[x] != x {
                parent[x] = parent[parent[x]];
                x = parent[x];
            }
            x
        }
        for same in by_key.values() {
            for (a_pos, &a) in same.iter().enumerate() {
                for &b in &same[a_pos + 1..] {
                    let (da, db) = (dimension_of(a), dimension_of(b));
                    if da.is_none() || db.is_none() || da != db {
                        let (ra, rb) = (find(&mut parent, a), find(&mut parent, b));
                        if ra != rb {
                            parent[ra.max(rb)] = ra.min(rb);
                        }
                    }
                }
            }
        }
        let mut group_of_root: BTreeMap<usize, usize> = BTreeMap::new();
        let mut groups = Vec::new();
        let mut figure_group = Vec::with_capacity(cells.len() + 1);
        for f in 0..=cells.len() {
            let root = find(&mut parent, f);
            let g = *group_of_root.entry(root).or_insert_with(|| {
                groups.push(Group {
                    n: i64::MAX,
                    has_cell: false,
                });
                groups.len() - 1
            });
            let n = if f == 0 {
                total.n
            } else {
                cells[f - 1].counts.n
            };
            groups[g].n = groups[g].n.min(n);
            groups[g].has_cell |= f > 0;
            figure_group.push(g);
        }
        let total_group = figure_group[0];
        let cell_group = figure_group[1..].to_vec();
        let mut dims: BTreeMap<&str, Vec<i128>> = BTreeMap::new();
        for (i, c) in cells.iter().enumerate() {
            let eq = dims.entry(c.dimension).or_insert_with(|| {
                let mut e = vec![0; groups.len()];
                e[total_group] -= 1;
                e
            });
            eq[cell_group[i]] += 1;
        }
        let mut equations: Vec<Vec<i128>> = dims.into_values().collect();
        for nest in nests {
            let mut e = vec![0; groups.len()];
            e[cell_group[nest.parent]] -= 1;
            for &c in &nest.children {
                e[cell_group[c]] += 1;
            }
            equations.push(e);
        }
        Self {
            groups,
            total_group,
            cell_group,
            equations,
        }
    }

    /// The hidden groups whose value follows from the published ones, smallest index first.
    fn determined(&self, hidden: &[bool]) -> Vec<usize> {
        determined(&self.equations, hidden)
    }

    /// The group to hide next so that `v` stops being determined: the smallest shown cell
    /// of the dimension with `v` that has the fewest hidden figures; the total when no
    /// cell is left to hide.
    fn next_to_hide(&self, v: usize, hidden: &[bool]) -> Option<usize> {
        let mut best: Option<(usize, i64, usize)> = None; // (hidden in the equation, n, group)
        for eq in &self.equations {
            if eq[v] == 0 {
                continue;
            }
            let unknowns = (0..eq.len()).filter(|&g| eq[g] != 0 && hidden[g]).count();
            for (g, &coefficient) in eq.iter().enumerate() {
                if coefficient == 0
                    || hidden[g]
                    || !self.groups[g].has_cell
                    || g == self.total_group
                {
                    continue;
                }
                let key = (unknowns, self.groups[g].n, g);
                if best.is_none_or(|b| key < b) {
                    best = Some(key);
                }
            }
        }
        best.map(|(_, _, g)| g)
            .or_else(|| (!hidden[self.total_group]).then_some(self.total_group))
    }
}

/// One published period of a tile, for [`protect_across_periods`].
#[derive(Debug, Clone)]
pub struct PeriodFigures<'a> {
    /// Its first day.
    pub start: NaiveDate,
    /// Its last day.
    pub end: NaiveDate,
    /// Its grain, as a rank: finer grains have smaller ranks.
    pub rank: usize,
    /// The counts of its total.
    pub total: Counts,
    /// Its cells, in the order of `protection.cell_hidden`.
    pub cells: Vec<MemberCounts<'a>>,
    /// Its cells that are sums of others ([`nesting`]).
    pub nests: Vec<Nest>,
    /// What may be published of it: the per-period rule's answer on the way in, with the
    /// figures hidden across periods added on the way out.
    pub protection: Protection,
}

/// Secondary suppression across periods: a reader also knows that a quarter is the sum
/// of its months and a year of its quarters, for the total and for every member. After the
/// per-period rule ([`protect_nested`]), more figures are hidden (cells before totals, the
/// finest grain first, the smallest first) until no hidden figure of any period can be
/// computed from everything published for its year: the equations of every period (cells
/// adding up to the total, nested members) together with the sums across periods, those of
/// them that hold for the data, checked exactly as [`determined`] does. Figures that only
/// happen to be equal are not linked here: a reader cannot know that they are. Only for counts that add up over time
/// (not for point-in-time tiles).
pub fn protect_across_periods(periods: &mut [PeriodFigures<'_>]) {
    let mut years: BTreeMap<i32, Vec<usize>> = BTreeMap::new();
    for (i, p) in periods.iter().enumerate() {
        years.entry(p.start.year()).or_default().push(i);
    }
    for members in years.into_values() {
        let mut year: Vec<PeriodFigures<'_>> =
            members.iter().map(|&i| periods[i].clone()).collect();
        protect_year(&mut year);
        for (p, i) in year.into_iter().zip(members) {
            periods[i].protection = p.protection;
        }
    }
}

/// [`protect_across_periods`] for the periods of one year.
fn protect_year(periods: &mut [PeriodFigures<'_>]) {
    // Variables: per period, its total, then its cells.
    let mut base = Vec::with_capacity(periods.len());
    let mut order: Vec<(bool, usize, i64)> = Vec::new(); // (is a total, rank, n)
    for p in periods.iter() {
        base.push(order.len());
        order.push((true, p.rank, p.total.n));
        // A cell with the total's counts is the total (a dimension of one member): hiding
        // it hides the total, so it comes last too.
        order.extend(
            p.cells
                .iter()
                .map(|(_, _, c)| (c.key() == p.total.key(), p.rank, c.n)),
        );
    }
    let mut equations: Vec<Vec<(usize, i128)>> = Vec::new();
    for (i, p) in periods.iter().enumerate() {
        let total = base[i];
        let cell = |j: usize| total + 1 + j;
        let mut dims: BTreeMap<&str, Vec<(usize, i128)>> = BTreeMap::new();
        for (j, (d, _, _)) in p.cells.iter().enumerate() {
            dims.entry(d)
                .or_insert_with(|| vec![(total, -1)])
                .push((cell(j), 1));
        }
        equations.extend(dims.into_values());
        for nest in &p.nests {
            let mut e = vec![(cell(nest.parent), -1)];
            e.extend(nest.children.iter().map(|&c| (cell(c), 1)));
            equations.push(e);
        }
    }
    // A period is the sum of the periods of the next finer grain inside it.
    let ranks: Vec<usize> = periods
        .iter()
        .map(|p| p.rank)
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    for pair in ranks.windows(2) {
        let (fine, coarse) = (pair[0], pair[1]);
        for (i, p) in periods.iter().enumerate().filter(|(_, p)| p.rank == coarse) {
            let inside: Vec<usize> = (0..periods.len())
                .filter(|&k| {
                    let f = &periods[k];
                    f.rank == fine && f.start >= p.start && f.end <= p.end
                })
                .collect();
            if inside.is_empty() {
                continue;
            }
            let mut totals = vec![(base[i], -1)];
            totals.extend(inside.iter().map(|&k| (base[k], 1)));
            equations.push(totals);
            let mut members: BTreeMap<(&str, &str), Vec<(usize, i128)>> = BTreeMap::new();
            for (j, (d, m, _)) in p.cells.iter().enumerate() {
                members
                    .entry((d, m))
                    .or_default()
                    .push((base[i] + 1 + j, -1));
            }
            for &k in &inside {
                for (j, (d, m, _)) in periods[k].cells.iter().enumerate() {
                    members
                        .entry((d, m))
                        .or_default()
                        .push((base[k] + 1 + j, 1));
                }
            }
            equations.extend(members.into_values());
        }
    }
    // Only sums that hold for the data are a reader's knowledge: a dimension whose cells
    // leave some observations out, or counts of distinct people over several months, add
    // nothing.
    equations.retain(|e| {
        e.len() > 1
            && e.iter()
                .map(|&(v, x)| x * i128::from(order[v].2))
                .sum::<i128>()
                == 0
    });

    let mut hidden = vec![false; order.len()];
    for (i, p) in periods.iter().enumerate() {
        hidden[base[i]] = p.protection.total.is_some();
        for (j, &h) in p.protection.cell_hidden.iter().enumerate() {
            hidden[base[i] + 1 + j] = h;
        }
    }
    // The figure of `equation` to hide next: a shown one, cells first, then the finest
    // grain, then the smallest.
    let pick = |equation: &[(usize, i128)], hidden: &[bool]| {
        equation
            .iter()
            .map(|(v, _)| *v)
            .filter(|&v| !hidden[v])
            .min_by_key(|&v| (order[v], v))
    };
    let mut fixed_by_hidden = std::collections::BTreeSet::new();
    loop {
        // An equation with one hidden figure gives it away: the quick cases first, then
        // the exact check for combinations.
        let mut hid = false;
        for e in &equations {
            if e.iter().filter(|(v, _)| hidden[*v]).count() == 1
                && let Some(g) = pick(e, &hidden)
            {
                hidden[g] = true;
                hid = true;
            }
        }
        if hid {
            continue;
        }
        let determined = determined_sparse(&equations, &hidden);
        let Some(&v) = determined.iter().find(|v| !fixed_by_hidden.contains(*v)) else {
            break;
        };
        let with_v = || equations.iter().filter(|e| e.iter().any(|(x, _)| *x == v));
        match with_v()
            .filter_map(|e| pick(e, &hidden))
            .min_by_key(|&g| (order[g], g))
        {
            Some(g) => hidden[g] = true,
            // Every figure of its equations is hidden: what fixes it uses no published
            // number (equations that do not hold for the data, such as distinct counts
            // over time), so it reveals nothing.
            None => {
                fixed_by_hidden.insert(v);
            }
        }
    }
    for (i, p) in periods.iter_mut().enumerate() {
        if hidden[base[i]] && p.protection.total.is_none() {
            p.protection.total = Some(TotalHidden::ProtectsCell);
        }
        for (j, h) in p.protection.cell_hidden.iter_mut().enumerate() {
            *h = hidden[base[i] + 1 + j];
        }
    }
}

/// One cell of a period for [`nesting`]: dimension, member, counts.
pub type MemberCounts<'a> = (&'a str, &'a str, Counts);

/// A breakdown member: dimension and member.
pub type Member<'a> = (&'a str, &'a str);

/// Which members of one dimension are the sums of members of another, from the cells of
/// every period of a grain: member `a` of a finer dimension `A` belongs to member `b` of `B`
/// when one assignment of every `A` member to a `B` member makes each `B` cell, in every
/// period, the sum of its members' cells (`n`, `numerator` and `denominator`). Returns
/// `((A, a), (B, b))` pairs. A reader who knows the organisation (which units make up a
/// service) knows these sums, so suppression must too.
pub fn nesting<'a>(periods: &[Vec<MemberCounts<'a>>]) -> Vec<(Member<'a>, Member<'a>)> {
    let mut members: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (d, m, _) in periods.iter().flatten() {
        let list = members.entry(d).or_default();
        if !list.contains(m) {
            list.push(m);
        }
    }
    let index: Vec<BTreeMap<(&str, &str), Counts>> = periods
        .iter()
        .map(|p| p.iter().map(|(d, m, c)| ((*d, *m), *c)).collect())
        .collect();
    let count = |p: &BTreeMap<(&str, &str), Counts>, d: &str, m: &str| p.get(&(d, m)).copied();
    let mut out = Vec::new();
    for (&fine, fine_members) in &members {
        for (&coarse, coarse_members) in &members {
            if fine == coarse || fine_members.len() <= coarse_members.len() {
                continue;
            }
            // Table of counts per period: [period][member] (zero when absent).
            let table = |d: &str, ms: &[&str]| -> Vec<Vec<[f64; 3]>> {
                index
                    .iter()
                    .map(|p| {
                        ms.iter()
                            .map(|m| {
                                count(p, d, m).map_or([0.0; 3], |c| {
                                    [
                                        c.n as f64,
                                        c.numerator.unwrap_or(0.0),
                                        c.denominator.unwrap_or(0.0),
                                    ]
                                })
                            })
                            .collect()
                    })
                    .collect()
            };
            let f = table(fine, fine_members);
            let c = table(coarse, coarse_members);
            if let Some(assign) = assign_members(&f, &c) {
                for (i, &b) in assign.iter().enumerate() {
                    out.push(((fine, fine_members[i]), (coarse, coarse_members[b])));
                }
            }
        }
    }
    out
}

/// An assignment of fine members to coarse ones under which every coarse count is the sum
/// of its fine counts in every period; none when there is none (or the search is too long).
fn assign_members(fine: &[Vec<[f64; 3]>], coarse: &[Vec<[f64; 3]>]) -> Option<Vec<usize>> {
    let nf = fine.first().map_or(0, Vec::len);
    let nc = coarse.first().map_or(0, Vec::len);
    let fits = |a: usize, b: usize| {
        fine.iter().zip(coarse).all(|(pf, pc)| {
            (0..3).all(|k| pf[a][k] <= pc[b][k] + 1e-9) && (pf[a][0] == 0.0 || pc[b][0] > 0.0)
        })
    };
    let candidates: Vec<Vec<usize>> = (0..nf)
        .map(|a| (0..nc).filter(|&b| fits(a, b)).collect())
        .collect();
    if candidates.iter().any(Vec::is_empty) {
        return None;
    }
    // Remaining room per period, coarse member and count.
    let mut room: Vec<Vec<[f64; 3]>> = coarse.to_vec();
    let mut assign = vec![0; nf];
    let mut steps = 0u32;
    fn search(
        a: usize,
        fine: &[Vec<[f64; 3]>],
        candidates: &[Vec<usize>],
        room: &mut [Vec<[f64; 3]>],
        assign: &mut [usize],
        steps: &mut u32,
    ) -> bool {
        if a == assign.len() {
            return room.iter().flatten().flatten().all(|x| x.abs() < 1e-6);
        }
        for &b in &candidates[a] {
            *steps += 1;
            if *steps > 200_000 {
                return false;
            }
            let ok = room
                .iter()
                .zip(fine)
                .all(|(r, f)| (0..3).all(|k| f[a][k] <= r[b][k] + 1e-6));
            if !ok {
                continue;
            }
            for (r, f) in room.iter_mut().zip(fine) {
                for k in 0..3 {
                    r[b][k] -= f[a][k];
                }
            }
            assign[a] = b;
            if search(a + 1, fine, candidates, room, assign, steps) {
                return true;
            }
            for (r, f) in room.iter_mut().zip(fine) {
                for k in 0..3 {
                    r[b][k] += f[a][k];
                }
            }
        }
        false
    }
    let found = search(0, fine, &candidates, &mut room, &mut assign, &mut steps);
    if !found && steps > 200_000 {
        tracing::warn!(
            "gave up looking for how {nf} breakdown members nest in {nc} others; \
             secondary suppression does not know their sums"
        );
    }
    found.then_some(assign)
}

/// Of the unknowns (columns with `hidden` set) of `equations` (rows of coefficients, right
/// hand sides known), those whose value the equations fix: the unit vectors in the row
/// space restricted to the unknown columns. Exact, in integers.
pub fn determined(equations: &[Vec<i128>], hidden: &[bool]) -> Vec<usize> {
    let unknown: Vec<usize> = (0..hidden.len()).filter(|&j| hidden[j]).collect();
    let rows: Vec<Vec<i128>> = equations
        .iter()
        .map(|e| unknown.iter().map(|&j| e[j]).collect())
        .filter(|r: &Vec<i128>| r.iter().any(|&x| x != 0))
        .collect();
    determined_in(rows, &unknown)
}

/// [`determined`] for sparse equations (`(variable, coefficient)` pairs).
fn determined_sparse(equations: &[Vec<(usize, i128)>], hidden: &[bool]) -> Vec<usize> {
    let unknown: Vec<usize> = (0..hidden.len()).filter(|&j| hidden[j]).collect();
    let column: BTreeMap<usize, usize> = unknown.iter().enumerate().map(|(c, &v)| (v, c)).collect();
    let rows: Vec<Vec<i128>> = equations
        .iter()
        .filter(|e| e.iter().any(|(v, _)| hidden[*v]))
        .map(|e| {
            let mut row = vec![0; unknown.len()];
            for (v, x) in e {
                if let Some(&c) = column.get(v) {
                    row[c] += x;
                }
            }
            row
        })
        .filter(|r| r.iter().any(|&x| x != 0))
        .collect();
    determined_in(rows, &unknown)
}

/// The unknowns fixed by `rows`, equations restricted to the `unknown` columns.
fn determined_in(mut rows: Vec<Vec<i128>>, unknown: &[usize]) -> Vec<usize> {
    let cols = unknown.len();
    let mut pivots: Vec<(usize, usize)> = Vec::new(); // (row, column)
    let mut r = 0;
    for c in 0..cols {
        let Some(p) = (r..rows.len()).find(|&i| rows[i][c] != 0) else {
            continue;
        };
        rows.swap(r, p);
        for i in 0..rows.len() {
            if i != r && rows[i][c] != 0 {
                let (a, b) = (rows[r][c], rows[i][c]);
                let pivot = rows[r].clone();
                for (x, y) in rows[i].iter_mut().zip(&pivot) {
                    *x = *x * a - *y * b;
                }
                normalise(&mut rows[i]);
            }
        }
        pivots.push((r, c));
        r += 1;
        if r == rows.len() {
            break;
        }
    }
    // Reduced: a pivot row with no other non-zero entry fixes its unknown.
    pivots
        .into_iter()
        .filter(|&(row, c)| rows[row].iter().enumerate().all(|(j, &x)| j == c || x == 0))
        .map(|(_, c)| unknown[c])
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect()
}

fn normalise(row: &mut [i128]) {
    let g = row.iter().fold(0i128, |g, &x| gcd(g, x.abs()));
    if g > 1 {
        row.iter_mut().for_each(|x| *x /= g);
    }
}

fn gcd(a: i128, b: i128) -> i128 {
    if b == 0 { a } else { gcd(b, a % b) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cells<'a>(spec: &[(&'a str, i64)]) -> Vec<CellCounts<'a>> {
        spec.iter()
            .map(|&(d, n)| CellCounts {
                dimension: d,
                counts: Counts::n(n),
            })
            .collect()
    }

    fn hidden(p: &Protection) -> Vec<usize> {
        (0..p.cell_hidden.len())
            .filter(|&i| p.cell_hidden[i])
            .collect()
    }

    #[test]
    fn nothing_small_nothing_hidden() {
        let c = cells(&[("service", 40), ("service", 60)]);
        let p = protect(Counts::n(100), &c, 30, 5);
        assert_eq!(p.total, None);
        assert!(hidden(&p).is_empty());
    }

    #[test]
    fn a_lone_small_cell_takes_the_smallest_other_cell_with_it() {
        let c = cells(&[
            ("service", 3),
            ("service", 50),
            ("service", 20),
            ("service", 27),
        ]);
        let p = protect(Counts::n(100), &c, 30, 5);
        assert_eq!(p.total, None);
        assert_eq!(hidden(&p), vec![0, 2]);
    }

    #[test]
    fn two_small_cells_protect_each_other() {
        let c = cells(&[("service", 3), ("service", 4), ("service", 93)]);
        let p = protect(Counts::n(100), &c, 30, 5);
        assert_eq!(hidden(&p), vec![0, 1]);
    }

    #[test]
    fn each_dimension_is_protected_on_its_own() {
        let c = cells(&[
            ("channel", 50),
            ("channel", 50),
            ("service", 2),
            ("service", 60),
            ("service", 38),
        ]);
        let p = protect(Counts::n(100), &c, 30, 5);
        assert_eq!(hidden(&p), vec![2, 4]);
    }

    #[test]
    fn a_sector_with_one_service_is_hidden_with_it() {
        // Sector A = service a1 (n 12); sector B = b1 + b2. Hiding b1 (3) hides a1 (the
        // smallest other service), and so sector A, which is the same figure.
        let c = cells(&[
            ("sector", 12),
            ("sector", 88),
            ("service", 12),
            ("service", 3),
            ("service", 85),
        ]);
        let p = protect(Counts::n(100), &c, 30, 5);
        assert_eq!(hidden(&p), vec![0, 1, 2, 3]);
        assert!(determined_after(Counts::n(100), &c, &p).is_empty());
    }

    #[test]
    fn a_suppressed_total_is_not_the_sum_of_a_dimension() {
        let c = cells(&[
            ("service", 12),
            ("service", 8),
            ("channel", 11),
            ("channel", 9),
        ]);
        let p = protect(Counts::n(20), &c, 30, 5);
        assert_eq!(p.total, Some(TotalHidden::BelowMinN));
        // One cell per dimension, the smallest.
        assert_eq!(hidden(&p), vec![1, 3]);
    }

    #[test]
    fn a_dimension_with_one_member_is_the_total() {
        // Everything in one sector: the sector cell is the total, hidden with it.
        let c = cells(&[("sector", 20), ("service", 12), ("service", 8)]);
        let p = protect(Counts::n(20), &c, 30, 5);
        assert_eq!(p.total, Some(TotalHidden::BelowMinN));
        assert_eq!(hidden(&p), vec![0, 2]);
        // And a small total with no floor of its own is hidden with its only cell.
        let c = cells(&[("sector", 3)]);
        let p = protect(Counts::n(3), &c, 0, 5);
        assert_eq!(p.total, Some(TotalHidden::ProtectsCell));
        assert_eq!(hidden(&p), vec![0]);
    }

    #[test]
    fn linking_needs_equal_numerators_too() {
        let mut c = cells(&[
            ("sector", 12),
            ("sector", 88),
            ("service", 12),
            ("service", 88),
        ]);
        c[0].counts.numerator = Some(5.0);
        c[2].counts.numerator = Some(6.0);
        let s = Structure::new(Counts::n(100), &c, &[]);
        assert_ne!(s.cell_group[0], s.cell_group[2]);
        assert_eq!(s.cell_group[1], s.cell_group[3]);
    }

    #[test]
    fn a_unit_is_not_its_service_minus_the_other_units() {
        // S1 = u1 (3) + u2 (40), S2 = u3 (30) + u4 (27). Per dimension, hiding u1 and u4
        // would do; but then u1 = S1 − u2.
        let c = cells(&[
            ("service", 43),
            ("service", 57),
            ("unit", 3),
            ("unit", 40),
            ("unit", 30),
            ("unit", 27),
        ]);
        let nests = [
            Nest {
                parent: 0,
                children: vec![2, 3],
            },
            Nest {
                parent: 1,
                children: vec![4, 5],
            },
        ];
        let flat = protect(Counts::n(100), &c, 0, 5);
        assert_eq!(hidden(&flat), vec![2, 5]);
        assert!(!determined_nested(Counts::n(100), &c, &nests, &flat).is_empty());
        let p = protect_nested(Counts::n(100), &c, &nests, 0, 5);
        assert!(p.cell_hidden[2]);
        assert!(determined_nested(Counts::n(100), &c, &nests, &p).is_empty());
    }

    #[test]
    fn nesting_is_found_from_the_periods() {
        let n = |x| Counts::n(x);
        let periods = vec![
            vec![
                ("service", "S1", n(43)),
                ("service", "S2", n(57)),
                ("unit", "u1", n(3)),
                ("unit", "u2", n(40)),
                ("unit", "u3", n(30)),
                ("unit", "u4", n(27)),
                ("channel", "phone", n(60)),
                ("channel", "chat", n(40)),
            ],
            vec![
                ("service", "S1", n(20)),
                ("service", "S2", n(50)),
                ("unit", "u2", n(20)),
                ("unit", "u3", n(11)),
                ("unit", "u4", n(39)),
                ("channel", "phone", n(30)),
                ("channel", "chat", n(40)),
            ],
        ];
        let mut found = nesting(&periods);
        found.sort();
        assert_eq!(
            found,
            vec![
                (("unit", "u1"), ("service", "S1")),
                (("unit", "u2"), ("service", "S1")),
                (("unit", "u3"), ("service", "S2")),
                (("unit", "u4"), ("service", "S2")),
            ]
        );
    }

    #[test]
    fn elimination_finds_differences_across_dimensions() {
        // x0 + x1 = T, x0 + x2 = T, with T, x1 shown... only x0, x2 hidden: x0 = T - x1
        // is fixed, then x2.
        let eq = vec![vec![1, 1, 0, -1], vec![1, 0, 1, -1]];
        assert_eq!(determined(&eq, &[true, false, true, false]), vec![0, 2]);
        // All of x0, x1, x2 hidden, T shown: x0 + x1 = T, x0 + x2 = T: none fixed.
        assert!(determined(&eq, &[true, true, true, false]).is_empty());
        // x1 - x2 is fixed once T is hidden too, but neither alone.
        assert!(determined(&eq, &[true, true, true, true]).is_empty());
    }

    fn determined_after(total: Counts, c: &[CellCounts<'_>], p: &Protection) -> Vec<usize> {
        determined_nested(total, c, &[], p)
    }

    fn determined_nested(
        total: Counts,
        c: &[CellCounts<'_>],
        nests: &[Nest],
        p: &Protection,
    ) -> Vec<usize> {
        let s = Structure::new(total, c, nests);
        let mut hidden = vec![false; s.groups.len()];
        hidden[s.total_group] = p.total.is_some();
        for (i, &g) in s.cell_group.iter().enumerate() {
            hidden[g] |= p.cell_hidden[i];
        }
        s.determined(&hidden)
    }
}
