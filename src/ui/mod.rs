//! The design system: small components every page builds from.

mod empty_state;
mod form;
mod modal;
mod theme;
mod toast;

pub use empty_state::EmptyState;
pub use modal::ConfirmDialog;
pub use form::{error_for, FormError, SubmitButton, TextArea, TextField};
pub use theme::{ThemeToggle, THEME_BOOT_SCRIPT};
pub use toast::{provide_toasts, use_toasts, ToastHost, Toasts};
