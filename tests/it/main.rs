//! Integration tests: the `tilannekuva` binary on generated sample exports, compared with
//! figures computed here, independently, from the generator's ground truth.
//!
//! One test binary (modules below) so the workspace links DataFusion once for all of them.

mod alerts;
mod as_of;
mod backfill;
mod check;
mod cluster;
mod common;
mod completeness;
mod crash;
mod demo;
mod deploy;
mod docs;
mod formats;
mod object_storage;
mod okr;
mod reload;
mod reorganisation;
mod report;
mod retention;
mod scheduler;
mod snapshots;
mod spreadsheets;
mod sql_wire;
mod tiles;
