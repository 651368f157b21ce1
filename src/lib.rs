#![doc = include_str!("../README.md")]

pub mod cli;
pub mod output;
pub mod project;
pub mod report;
pub mod scheduling;
