//! No code: see this crate's `Cargo.toml`. Depending on it gives every build of the workspace
//! the same features of the shared dependencies, so no command rebuilds what another built.
