//! Routing: turning a request's host and path into a configured route.
//!
//! Owns what escaped separators mean ([`escaped`]) and route/public-path matching
//! ([`table`]); path normalisation itself is `crate::urlpath` (below the config, which
//! checks path prefixes with it). Pure and allocation-free on the hot path; must
//! never do I/O, read headers other than the host it is given, or look at the query string.

pub mod escaped;
pub mod table;

pub use crate::urlpath::{normalize_path, without_params, PathError, MAX_PATH_LEN};
pub use escaped::{has_escaped_separator, request_path};
pub use table::{host_only, is_public, prefix_matches, strip_prefix, AmbiguousRoute, RouteTable};
