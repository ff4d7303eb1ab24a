//! Screens: the controls at the top, one card per file below.

mod controls;
mod result;

pub use controls::Controls;
pub use result::FileCard;
