//! Configuration: the YAML users write (raw), its validation into [`Config`], and reload.
mod model;
pub use model::*;
