//! The chat page's state and what changes it: opening a conversation, asking, reading the
//! answer stream, stopping and regenerating.

use crate::features::chat::{
    get_conversation, regenerate_answer, send_message, stop_answer, ChatEvent, MessageStatus, MessageView, Role,
};
use crate::error::AppError;
use futures::StreamExt;
use leptos::prelude::*;
use leptos::server_fn::codec::TextStream;
use leptos::task::spawn_local;
use uuid::Uuid;

#[derive(Clone, Copy)]
pub struct ChatState {
    pub bot_id: Memo<String>,
    /// The conversation on screen; `None` is a new, empty one.
    pub current: RwSignal<Option<Uuid>>,
    pub messages: RwSignal<Vec<MessageView>>,
    pub loading: RwSignal<bool>,
    /// An answer is being written.
    pub busy: RwSignal<bool>,
    pub answering: RwSignal<Option<Uuid>>,
    pub draft: RwSignal<String>,
    pub error: RwSignal<Option<String>>,
    /// The citation shown in the sources panel: (answer id, source number).
    pub cited: RwSignal<Option<(Uuid, u16)>>,
    /// Bumped when the conversation list should be read again.
    pub list_version: RwSignal<u32>,
    /// Changes the address (kept from the page's router context for use in async code).
    navigate: Callback<String>,
}

impl ChatState {
    pub fn new(bot_id: Memo<String>) -> Self {
        Self {
            bot_id,
            current: RwSignal::new(None),
            messages: RwSignal::new(Vec::new()),
            loading: RwSignal::new(false),
            busy: RwSignal::new(false),
            answering: RwSignal::new(None),
            draft: RwSignal::new(String::new()),
            error: RwSignal::new(None),
            cited: RwSignal::new(None),
            list_version: RwSignal::new(0),
            navigate: {
                let navigate = leptos_router::hooks::use_navigate();
                Callback::new(move |to: String| {
                    navigate(&to, leptos_router::NavigateOptions { replace: true, scroll: false, ..Default::default() })
                })
            },
        }
    }

    /// Shows conversation `id` (or a new one), unless it is already on screen.
    pub fn open(self, id: Option<Uuid>) {
        if self.current.get_untracked() == id && (id.is_none() || !self.messages.with_untracked(Vec::is_empty)) {
            return;
        }
        if self.busy.get_untracked() {
            self.stop();
        }
        self.current.set(id);
        self.cited.set(None);
        self.error.set(None);
        self.messages.set(Vec::new());
        let Some(id) = id else { return };
        self.loading.set(true);
        spawn_local(async move {
            let result = get_conversation(id.to_string()).await;
            if self.current.get_untracked() != Some(id) {
                return;
            }
            self.loading.set(false);
            match result {
                Ok(view) => self.messages.set(view.messages),
                Err(e) => self.error.set(Some(e.to_string())),
            }
        });
    }

    pub fn send(self, text: String) {
        if self.busy.get_untracked() {
            return;
        }
        self.busy.set(true);
        self.error.set(None);
        let bot = self.bot_id.get_untracked();
        let conversation = self.current.get_untracked().map(|c| c.to_string()).unwrap_or_default();
        spawn_local(async move {
            let stream = send_message(bot, conversation, text).await;
            self.read(stream).await;
        });
    }

    pub fn regenerate(self) {
        let Some(conversation) = self.current.get_untracked() else { return };
        if self.busy.get_untracked() {
            return;
        }
        self.busy.set(true);
        self.error.set(None);
        spawn_local(async move {
            let stream = regenerate_answer(conversation.to_string()).await;
            self.read(stream).await;
        });
    }

    pub fn stop(self) {
        if let Some(answer) = self.answering.get_untracked() {
            spawn_local(async move {
                let _ = stop_answer(answer.to_string()).await;
            });
        }
    }

    async fn read(self, stream: Result<TextStream<AppError>, AppError>) {
        let mut stream = match stream {
            Ok(stream) => stream.into_inner(),
            Err(e) => {
                // Nothing was saved: the question stays in the box.
                self.error.set(Some(e.to_string()));
                self.busy.set(false);
                return;
            }
        };
        let mut buffer = String::new();
        let mut done = false;
        while let Some(chunk) = stream.next().await {
            match chunk {
                Ok(text) => {
                    buffer.push_str(&text);
                    for event in ChatEvent::drain_lines(&mut buffer) {
                        done |= matches!(event, ChatEvent::Done { .. });
                        self.apply(event);
                    }
                }
                Err(_) => break,
            }
        }
        if !done {
            // The connection dropped mid-answer: the question is saved; offer a retry.
            if let Some(answer) = self.answering.get_untracked() {
                self.update(answer, |m| {
                    m.status = MessageStatus::Failed;
                    m.error = Some("The connection was lost before the answer finished.".into());
                });
            }
        }
        self.answering.set(None);
        self.busy.set(false);
    }

    fn update(self, id: Uuid, change: impl FnOnce(&mut MessageView)) {
        self.messages.update(|list| {
            if let Some(m) = list.iter_mut().find(|m| m.id == id) {
                change(m);
            }
        });
    }

    fn apply(self, event: ChatEvent) {
        match event {
            ChatEvent::Started { conversation, question, answer_id } => {
                let is_new = self.current.get_untracked() != Some(conversation.id);
                self.current.set(Some(conversation.id));
                self.draft.set(String::new());
                self.messages.update(|list| {
                    // A regenerated answer replaces everything after its question.
                    match list.iter().position(|m| m.id == question.id) {
                        Some(at) => list.truncate(at + 1),
                        None => list.push(question.clone()),
                    }
                    list.push(placeholder(answer_id, question.created_at));
                });
                self.answering.set(Some(answer_id));
                self.list_version.update(|v| *v += 1);
                if is_new {
                    // In the address bar, so a reload reopens this conversation.
                    self.navigate.run(format!("/bots/{}/chat?c={}", self.bot_id.get_untracked(), conversation.id));
                }
            }
            ChatEvent::Sources { sources } => {
                if let Some(id) = self.answering.get_untracked() {
                    self.update(id, |m| m.sources = sources);
                }
            }
            ChatEvent::Delta { text } => {
                if let Some(id) = self.answering.get_untracked() {
                    self.update(id, |m| m.content.push_str(&text));
                }
            }
            ChatEvent::Done { answer } => {
                let id = answer.id;
                self.update(id, |m| *m = answer);
            }
        }
    }
}

fn placeholder(id: Uuid, at: chrono::DateTime<chrono::Utc>) -> MessageView {
    MessageView::fresh(id, Role::Assistant, String::new(), MessageStatus::Streaming, at)
}
