//! Argon2id hashing with OWASP's recommended parameters (19 MiB, 2 passes, 1 lane), run on
//! the blocking pool so a burst of sign-ins does not stall the async workers.

use crate::error::AppError;
use crate::features::auth::Password;
use argon2::password_hash::{rand_core::OsRng, PasswordHash as ParsedHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use std::sync::{Arc, LazyLock};
use tokio::sync::Semaphore;

/// A PHC-format hash. Not `Serialize`, so it cannot end up in a response.
pub struct PasswordHash(pub String);

/// Hashes and checks passwords, a few at once. Each hash takes 19 MiB and a core for ~50 ms:
/// a flood of sign-ups or guesses queues here instead of exhausting memory or starving the
/// embedding model of cores. It limits this process's own memory and cores, so one lives in
/// each process's `AppState` (several server processes each have their own cores); clones
/// share the limit.
#[derive(Clone)]
pub struct Passwords {
    at_once: Arc<Semaphore>,
}

impl Default for Passwords {
    /// One hash per core, at most four.
    fn default() -> Self {
        Self { at_once: Arc::new(Semaphore::new(std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 4))) }
    }
}

fn hasher() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("OWASP argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

impl Passwords {
pub async fn hash(&self, password: &Password) -> Result<PasswordHash, AppError> {
    let plain = password.expose().to_owned();
    let _permit = self.at_once.acquire().await.map_err(|_| AppError::Internal)?;
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        hasher()
            .hash_password(plain.as_bytes(), &salt)
            .map(|h| PasswordHash(h.to_string()))
            .map_err(|e| {
                tracing::error!(error = %e, "argon2 hashing failed");
                AppError::Internal
            })
    })
    .await
    .map_err(|_| AppError::Internal)?
}

/// Verifies against a stored hash; `None` (no such account) still costs one full hash, so
/// response time does not tell whether an email is registered.
pub async fn verify(&self, stored: Option<String>, candidate: &str) -> bool {
    static DECOY: LazyLock<String> = LazyLock::new(|| {
        let salt = SaltString::generate(&mut OsRng);
        hasher().hash_password(b"decoy password for timing", &salt).expect("hash").to_string()
    });
    let candidate = candidate.to_owned();
    let Ok(_permit) = self.at_once.acquire().await else { return false };
    tokio::task::spawn_blocking(move || {
        let is_real = stored.is_some();
        let stored = stored.unwrap_or_else(|| DECOY.clone());
        let Ok(parsed) = ParsedHash::new(&stored) else {
            tracing::error!("stored password hash is not in PHC format");
            return false;
        };
        hasher().verify_password(candidate.as_bytes(), &parsed).is_ok() && is_real
    })
    .await
    .unwrap_or(false)
}
}
