//! The design system: small components every page builds from.

mod bound;
mod chart;
mod copy;
mod download;
mod empty_state;
mod form;
mod modal;
mod theme;
mod toast;

pub use bound::{BoundNumber, BoundSlider, BoundText, BoundToggle, FormSection, Getter, Setter};
pub use chart::{LineChart, Series};
pub use copy::CopyField;
pub use download::download;
pub use empty_state::EmptyState;
pub use modal::ConfirmDialog;
pub use form::{error_for, FieldError, FieldShell, FormError, SubmitButton, TextArea, TextField, KEEP_FIELDS_SCRIPT};
pub use theme::{ThemeToggle, THEME_BOOT_SCRIPT};
pub use toast::{provide_toasts, use_toasts, ToastHost, Toasts};
