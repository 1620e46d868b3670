//! What reaches the ends unconsumed is reported through `tracing`, never
//! silently, and without flooding the log.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context as LayerContext, SubscriberExt};
use tracing_subscriber::Layer;
use weft_pipeline::{Pipeline, PipelineError};

/// Counts events at one level.
struct Count(Level, Arc<AtomicUsize>);

impl<S: Subscriber> Layer<S> for Count {
    fn on_event(&self, event: &Event<'_>, _ctx: LayerContext<'_, S>) {
        if *event.metadata().level() == self.0 {
            self.1.fetch_add(1, Ordering::Relaxed);
        }
    }
}

fn counting(level: Level) -> (impl Subscriber, Arc<AtomicUsize>) {
    let n = Arc::new(AtomicUsize::new(0));
    (
        tracing_subscriber::registry().with(Count(level, n.clone())),
        n,
    )
}

#[test]
fn unconsumed_messages_are_all_counted_and_logged_at_powers_of_two() {
    let (subscriber, warnings) = counting(Level::WARN);
    let mut p = Pipeline::new();
    tracing::subscriber::with_default(subscriber, || {
        for _ in 0..9 {
            p.fire_read(Bytes::from_static(b"xy").into());
        }
    });
    assert_eq!(p.stats().unconsumed_reads, 9);
    assert_eq!(p.stats().unconsumed_bytes, 18);
    assert_eq!(
        warnings.load(Ordering::Relaxed),
        4,
        "the 1st, 2nd, 4th and 8th"
    );
}

#[test]
fn unhandled_exception_is_logged_as_an_error() {
    let (subscriber, errors) = counting(Level::ERROR);
    let mut p = Pipeline::new();
    tracing::subscriber::with_default(subscriber, || {
        p.fire_exception(PipelineError::decode("bad frame"));
    });
    assert_eq!(errors.load(Ordering::Relaxed), 1);
    assert_eq!(p.stats().unhandled_exceptions, 1);
}
