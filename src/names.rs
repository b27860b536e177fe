//! `named_enum!`: an enum whose variants go by the names a scenario file spells them
//! with, so that the list validation offers and the parse the model relies on are one.

/// Declares a `Copy` enum with `NAMES` (in declaration order), `ALL`, `by_name` and
/// `name`, and `Display` by name.
///
/// ```ignore
/// named_enum! {
///     /// How the ingest servers share the streams.
///     pub enum Redundancy {
///         ActivePassive = "active-passive",
///         ActiveActive = "active-active",
///     }
/// }
/// ```
macro_rules! named_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $($(#[$variant_meta:meta])* $variant:ident = $text:literal),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        $vis enum $name {
            $($(#[$variant_meta])* $variant),+
        }

        impl $name {
            /// Every name, in declaration order.
            pub const NAMES: &'static [&'static str] = &[$($text),+];
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The variant spelled `name`, if there is one.
            pub fn by_name(name: &str) -> Option<Self> {
                match name {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }

            /// How a scenario file spells it.
            pub fn name(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }
    };
}

/// A stream as every output and log line names it: `stream-1` for index 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamName(pub usize);

impl std::fmt::Display for StreamName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "stream-{}", self.0 + 1)
    }
}
