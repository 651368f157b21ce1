//! How far a binding goal is, read from a snapshot: for each period, the cell of the goal in
//! the progress tile's breakdown (the share of its key results progressing). The one home of
//! that reading, for the desktop and the board report alike.

use crate::strategy::Goal;
use crate::{Cell, Grain, PeriodFigure, Tile, TilesDoc};

/// A goal's progress in one period.
#[derive(Debug, Clone, Copy)]
pub struct GoalFigure<'a> {
    /// The progress tile's figure of the period (its period, completeness, data through).
    pub figure: &'a PeriodFigure,
    /// The goal's cell of it: value, counts and status against the tile's target.
    pub cell: &'a Cell,
}

impl TilesDoc {
    /// The tile the goals' progress is read from, when the strategy names one and the
    /// snapshot has it.
    pub fn goal_progress_tile(&self) -> Option<&Tile> {
        self.strategy
            .goal_progress
            .as_ref()
            .and_then(|p| self.tile(&p.tile))
    }

    /// The goal's progress in a figure of the progress tile, when the figure has its cell.
    pub fn goal_figure<'a>(
        &'a self,
        goal: &Goal,
        figure: &'a PeriodFigure,
    ) -> Option<GoalFigure<'a>> {
        let dimension = &self.strategy.goal_progress.as_ref()?.dimension;
        figure
            .breakdown
            .iter()
            .find(|c| &c.dimension == dimension && goal.is_member(&c.member))
            .map(|cell| GoalFigure { figure, cell })
    }

    /// The goal's progress in every period of `grain` the goal is binding in, oldest first.
    pub fn goal_series(&self, goal: &Goal, grain: Grain) -> Vec<GoalFigure<'_>> {
        let Some(series) = self.goal_progress_tile().and_then(|t| t.series.get(&grain)) else {
            return Vec::new();
        };
        series
            .iter()
            .filter(|f| goal.binding_in(chrono::Datelike::year(&f.end)))
            .filter_map(|f| self.goal_figure(goal, f))
            .collect()
    }
}
