//! `chatsphere admin COMMAND`: the operator's account recovery, no mail server needed. It uses
//! the server's own settings and database (DATABASE_URL), so it runs beside a live server.

use super::{db, settings::Settings};
use crate::features::auth::server::{accounts, admin, invitations};
use std::io::{BufRead, IsTerminal};

const USAGE: &str = "usage: chatsphere admin COMMAND
  create-user EMAIL NAME   create an account (password: one line on stdin, or generated and printed)
  reset-password EMAIL     set a new password the same way and end the account's sessions
  disable EMAIL            stop the account signing in and end its sessions (its data is kept)
  enable EMAIL             let a disabled account sign in again
  list                     every account: email, name, created, bots, disabled
  invite                   print a single-use invitation link (registration = \"invite\")";

/// Runs one command; returns the process exit code.
pub async fn run(args: &[String]) -> i32 {
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    let settings = match Settings::load() {
        Ok(s) => s,
        Err(e) => return fail(&e.to_string()),
    };
    let pool = match db::connect_and_migrate(&settings.database).await {
        Ok(p) => p,
        Err(e) => return fail(&e.to_string()),
    };
    let rules = &settings.auth;
    let passwords = crate::features::auth::server::password::Passwords::default();
    let outcome = match words.as_slice() {
        ["create-user", email, name] => {
            let (password, generated) = new_password();
            accounts::sign_up(&pool, rules, &passwords, email, name, &password).await.map(|user| {
                println!("created {} ({})", user.email, user.id);
                show_generated(generated, &password);
            })
        }
        ["reset-password", email] => {
            let (password, generated) = new_password();
            admin::reset_password(&pool, rules, &passwords, email, &password).await.map(|ended| {
                println!("password of {email} reset; {ended} session(s) ended");
                show_generated(generated, &password);
            })
        }
        ["disable", email] => admin::set_disabled(&pool, email, true).await.map(|()| println!("{email} disabled; its sessions ended")),
        ["enable", email] => admin::set_disabled(&pool, email, false).await.map(|()| println!("{email} enabled")),
        ["list"] => admin::list(&pool).await.map(|accounts| {
            println!("{:<40} {:<24} {:<20} {:>5} {}", "email", "name", "created (UTC)", "bots", "status");
            for a in accounts {
                let created = a.created_at.format("%Y-%m-%d %H:%M");
                println!("{:<40} {:<24} {:<20} {:>5} {}", a.email, a.display_name, created, a.bots, if a.disabled { "disabled" } else { "active" });
            }
        }),
        ["invite"] => invitations::create(&pool, None, rules.invitation_ttl_hours)
            .await
            .map(|token| println!("{}", invitations::link(&settings.server.public_url, &token))),
        _ => {
            eprintln!("{USAGE}");
            return 2;
        }
    };
    match outcome {
        Ok(()) => 0,
        Err(e) => fail(&e.to_string()),
    }
}

fn fail(message: &str) -> i32 {
    eprintln!("chatsphere admin: {message}");
    1
}

/// One line from stdin when it is piped in; otherwise a generated password (shown once).
fn new_password() -> (String, bool) {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        let mut line = String::new();
        if stdin.lock().read_line(&mut line).is_ok() && !line.trim_end_matches(['\r', '\n']).is_empty() {
            return (line.trim_end_matches(['\r', '\n']).to_owned(), false);
        }
    }
    (crate::features::auth::server::sessions::SessionToken::generate().as_str()[..20].to_owned(), true)
}

fn show_generated(generated: bool, password: &str) {
    if generated {
        println!("password: {password}  (shown once; ask them to change it under Account)");
    }
}
