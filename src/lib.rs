#![doc = include_str!("../README.md")]

pub mod cli;
pub mod project;
pub mod scheduling;
