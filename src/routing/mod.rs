//! Routing: turning a request's host and path into a configured route.
//!
//! Owns path normalisation ([`path`]), what escaped separators mean ([`escaped`]) and
//! route/public-path matching ([`table`]). Pure and allocation-free on the hot path; must
//! never do I/O, read headers other than the host it is given, or look at the query string.

pub mod escaped;
pub mod path;
pub mod table;

pub use escaped::{has_escaped_separator, request_path};
pub use path::{normalize_path, without_params, PathError, MAX_PATH_LEN};
pub use table::{host_only, is_public, prefix_matches, strip_prefix, AmbiguousRoute, RouteTable};
