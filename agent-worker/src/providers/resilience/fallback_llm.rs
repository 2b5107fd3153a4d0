//! An `Llm` made of a chain: the job's provider, then the configured fallbacks.
//!
//! `stream` resolves once some provider produced its first event (so every retry and
//! fallback happens before the callee could notice); later errors are passed through.
//! The stream it returns meters tokens: the service's own usage when it reports one, else
//! an estimate of characters / 4, recorded when the stream ends or is dropped (a barge-in
//! still costs what was generated).

use super::retry::{try_chain, RetryPolicy};
use super::timed::{limited, StreamLimits};
use super::{Breaker, Link};
use crate::providers::cost::{Kind, UsageMeter};
use crate::providers::{ChatMessage, Llm, LlmEvent, LlmRequest, ProviderError};
use async_trait::async_trait;
use futures::stream::{self, BoxStream, Stream, StreamExt};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::time::Instant;

/// The chain of LLM providers for one call.
pub struct FallbackLlm {
    links: Vec<Link<dyn Llm>>,
    retry: RetryPolicy,
    limits: StreamLimits,
    meter: UsageMeter,
}

impl std::fmt::Debug for FallbackLlm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FallbackLlm")
            .field("links", &self.links)
            .finish_non_exhaustive()
    }
}

type Started = (
    Option<LlmEvent>,
    BoxStream<'static, Result<LlmEvent, ProviderError>>,
    String,
);

impl FallbackLlm {
    /// A chain; `links[0]` is the job's provider.
    pub fn new(
        links: Vec<Link<dyn Llm>>,
        retry: RetryPolicy,
        limits: StreamLimits,
        meter: UsageMeter,
    ) -> Self {
        Self {
            links,
            retry,
            limits,
            meter,
        }
    }
}

#[async_trait]
impl Llm for FallbackLlm {
    fn name(&self) -> &str {
        self.links.first().map_or("none", |l| l.name.as_str())
    }

    async fn stream(
        &self,
        request: LlmRequest,
    ) -> Result<BoxStream<'static, Result<LlmEvent, ProviderError>>, ProviderError> {
        let started = Instant::now();
        let prompt_chars = prompt_chars(&request);
        let answered = try_chain(
            &self.links,
            0..self.links.len(),
            &self.retry,
            self.limits.first,
            Kind::Llm,
            &self.meter,
            |link| {
                let provider = Arc::clone(&link.provider);
                let mut request = request.clone();
                request.model = link.model_for(&request.model);
                async move {
                    let model = request.model.clone();
                    let mut events = provider.stream(request).await?;
                    match events.next().await {
                        Some(Ok(first)) => Ok::<Started, _>((Some(first), events, model)),
                        Some(Err(error)) => Err(error),
                        None => Ok((None, events, model)),
                    }
                }
            },
        )
        .await?;
        let link = &self.links[answered.index];
        if !link.primary {
            self.meter.fallback(Kind::Llm);
        }
        let (first, rest, model) = answered.value;
        let events = stream::iter(first.map(Ok))
            .chain(limited(rest, &link.name, self.limits, started))
            .boxed();
        Ok(Metered {
            events,
            meter: self.meter.clone(),
            breaker: Arc::clone(&link.breaker),
            provider: link.name.clone(),
            model,
            prompt_chars,
            completion_chars: 0,
            usage_reported: false,
        }
        .boxed())
    }
}

/// Characters the service reads: messages, tool calls and tool definitions.
fn prompt_chars(request: &LlmRequest) -> usize {
    let len = |s: &str| s.chars().count();
    let messages: usize = request
        .messages
        .iter()
        .map(|m| match m {
            ChatMessage::System(text) | ChatMessage::User(text) => len(text),
            ChatMessage::Assistant {
                content,
                tool_calls,
            } => {
                content.as_deref().map_or(0, len)
                    + tool_calls
                        .iter()
                        .map(|c| len(&c.name) + len(&c.arguments))
                        .sum::<usize>()
            }
            ChatMessage::Tool { content, .. } => len(content),
        })
        .sum();
    let tools: usize = request
        .tools
        .iter()
        .map(|t| len(&t.name) + len(&t.description) + t.parameters.to_string().len())
        .sum();
    messages + tools
}

/// The committed stream, counting what it yields.
struct Metered {
    events: BoxStream<'static, Result<LlmEvent, ProviderError>>,
    meter: UsageMeter,
    breaker: Arc<Breaker>,
    provider: String,
    model: String,
    prompt_chars: usize,
    completion_chars: usize,
    usage_reported: bool,
}

impl Stream for Metered {
    type Item = Result<LlmEvent, ProviderError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let item = futures::ready!(self.events.poll_next_unpin(cx));
        match &item {
            Some(Ok(LlmEvent::Token(text))) => self.completion_chars += text.chars().count(),
            Some(Ok(LlmEvent::ToolCall(call))) => {
                self.completion_chars += call.name.chars().count() + call.arguments.chars().count();
            }
            Some(Ok(LlmEvent::Usage {
                prompt_tokens,
                completion_tokens,
            })) => {
                self.meter.llm_tokens(
                    &self.provider,
                    &self.model,
                    *prompt_tokens,
                    *completion_tokens,
                    false,
                );
                self.usage_reported = true;
            }
            Some(Err(error)) => {
                self.meter.error(Kind::Llm, &self.provider);
                self.breaker.report_failure(error);
            }
            None => {}
        }
        Poll::Ready(item)
    }
}

impl Drop for Metered {
    fn drop(&mut self) {
        if !self.usage_reported {
            self.meter.llm_tokens(
                &self.provider,
                &self.model,
                self.prompt_chars.div_ceil(4) as u64,
                self.completion_chars.div_ceil(4) as u64,
                true,
            );
        }
    }
}

#[cfg(test)]
mod tests;
