//! Accounts: sign-up, sign-in, sessions, settings. Wire types and input parsing live here,
//! shared by the browser and the server.

mod api;
mod pages;
#[cfg(feature = "ssr")]
pub mod server;

pub use api::*;
pub use pages::*;

use crate::error::AppError;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Who is signed in, as the browser may see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurrentUser {
    pub id: Uuid,
    pub email: String,
    pub display_name: String,
}

/// A syntactically valid email address, lower-cased so that lookups ignore case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, AppError> {
        let email = raw.trim().to_lowercase();
        let bad = || AppError::invalid("email", "Enter a valid email address, like name@example.com.");
        let (local, domain) = email.split_once('@').ok_or_else(bad)?;
        let well_formed = !local.is_empty()
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains('@')
            && !email.chars().any(|c| c.is_whitespace() || c.is_control());
        if !well_formed {
            return Err(bad());
        }
        if email.len() > 254 {
            return Err(AppError::invalid("email", "Email addresses are at most 254 characters."));
        }
        Ok(Self(email))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

pub const DISPLAY_NAME_MAX: usize = 60;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DisplayName(String);

impl DisplayName {
    pub fn parse(raw: &str) -> Result<Self, AppError> {
        let name = raw.trim();
        if name.is_empty() {
            return Err(AppError::invalid("display_name", "Enter a display name."));
        }
        if name.chars().count() > DISPLAY_NAME_MAX {
            return Err(AppError::invalid(
                "display_name",
                format!("Display names are at most {DISPLAY_NAME_MAX} characters."),
            ));
        }
        if name.chars().any(char::is_control) {
            return Err(AppError::invalid("display_name", "Display names cannot contain control characters."));
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Upper bound that keeps hashing cost bounded whatever a client sends.
pub const PASSWORD_MAX: usize = 256;

/// A password that meets the rules. Deliberately neither `Serialize` nor `Display`.
pub struct Password(String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(..)")
    }
}

impl Password {
    pub fn parse(raw: &str, min_length: usize, email: &Email) -> Result<Self, AppError> {
        let field = "password";
        let length = raw.chars().count();
        if length < min_length {
            return Err(AppError::invalid(field, format!("Passwords must be at least {min_length} characters.")));
        }
        if length > PASSWORD_MAX {
            return Err(AppError::invalid(field, format!("Passwords are at most {PASSWORD_MAX} characters.")));
        }
        if raw.trim().is_empty() {
            return Err(AppError::invalid(field, "Passwords cannot be only spaces."));
        }
        if raw.to_lowercase() == email.as_str() {
            return Err(AppError::invalid(field, "Your password cannot be your email address."));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// Where to go after signing in: only paths on this site, so `next` cannot send people away.
/// Browsers drop tabs and newlines from URLs ("/\t/evil.example" becomes "//evil.example") and
/// read a backslash as a slash, so a path holding any of them, or any control character or
/// space, is refused too (and could not be a `Location` header anyway).
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path.chars().any(|c| c == '\\' || c.is_whitespace() || c.is_control()) =>
        {
            path.to_owned()
        }
        _ => "/".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(Email::parse("  Ada@Example.COM ").unwrap().as_str(), "ada@example.com");
        for bad in ["", "ada", "ada@", "@example.com", "ada@example", "a da@example.com", "a@b@c.com", "ada@.com"] {
            assert_eq!(Email::parse(bad).unwrap_err().field(), Some("email"), "{bad:?}");
        }
    }

    #[test]
    fn each_password_rule_has_its_own_message() {
        let email = Email::parse("ada@example.com").unwrap();
        let msg = |raw: &str| Password::parse(raw, 10, &email).unwrap_err().to_string();
        assert_eq!(msg("short"), "Passwords must be at least 10 characters.");
        assert_eq!(msg(&"x".repeat(300)), "Passwords are at most 256 characters.");
        assert_eq!(msg("            "), "Passwords cannot be only spaces.");
        assert_eq!(msg("ADA@example.com"), "Your password cannot be your email address.");
        assert!(Password::parse("correct horse battery", 10, &email).is_ok());
    }

    #[test]
    fn display_names_are_trimmed_and_bounded() {
        assert_eq!(DisplayName::parse("  Ada  ").unwrap().as_str(), "Ada");
        assert!(DisplayName::parse("   ").is_err());
        assert!(DisplayName::parse(&"a".repeat(61)).is_err());
    }

    #[test]
    fn next_only_allows_local_paths() {
        assert_eq!(safe_next(Some("/bots?x=1")), "/bots?x=1");
        assert_eq!(safe_next(Some("//evil.example")), "/");
        assert_eq!(safe_next(Some("https://evil.example")), "/");
        assert_eq!(safe_next(Some("/\\evil.example")), "/");
        assert_eq!(safe_next(None), "/");
        for sneaky in ["/\t/evil.example", "/\n/evil.example", "/\r\nSet-Cookie: x=1", "/ /evil", "/\u{0}x", "/\u{85}x"] {
            assert_eq!(safe_next(Some(sneaky)), "/", "{sneaky:?}");
        }
    }
}

/// The sign-in address that returns to `next` afterwards.
pub fn signin_url(next: &str) -> String {
    if next == "/" || next.is_empty() {
        return "/signin".into();
    }
    let mut url = String::from("/signin?next=");
    for byte in next.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => url.push(byte as char),
            _ => url.push_str(&format!("%{byte:02X}")),
        }
    }
    url
}

#[cfg(test)]
mod url_tests {
    #[test]
    fn signin_url_encodes_the_return_path() {
        assert_eq!(super::signin_url("/"), "/signin");
        assert_eq!(super::signin_url("/bots?tab=a&b=c"), "/signin?next=/bots%3Ftab%3Da%26b%3Dc");
    }
}
