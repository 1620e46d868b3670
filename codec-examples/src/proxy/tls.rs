//! `weft proxy --tls-cert/--tls-key`: TLS terminated in front of a
//! plaintext upstream.
//!
//! Decrypted bytes cannot be spliced, so each client is a Weft pipeline
//! on a TLS connection whose handler ([`Front`]) opens a plaintext Weft
//! connection to the upstream and hands each read buffer to it as is (no
//! copy: the `Bytes` a TLS read produced is what the upstream connection
//! writes, and what comes back is what TLS encrypts). Each side stops
//! reading while the other is above its high watermark, so a slow reader
//! on either end bounds the proxy's memory. A client that half-closes
//! half-closes the upstream and still gets its answer (as the splice
//! relay does); when the upstream closes, the client is closed after what
//! it was sent is written.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use weft_pipeline::{Context, Event, Handler, Nothing};
use weft_transport::{connect_tcp, Channel, ChannelConfig, InputShutdown};

use super::Totals;

/// Hands `bytes` to `peer` as they are (counted in `total`), and stops
/// reading until `peer` can take more, if it cannot now.
fn forward<H: Handler<Out = Nothing>>(
    ctx: &mut Context<'_, Nothing>,
    peer: &Channel,
    bytes: Bytes,
    total: &AtomicU64,
) {
    total.fetch_add(bytes.len() as u64, Ordering::Relaxed);
    drop(peer.write_and_flush(bytes));
    if peer.is_writable() {
        return;
    }
    ctx.set_auto_read(false);
    let peer = peer.clone();
    ctx.spawn(
        async move { peer.writable().await },
        |_h: &mut H, ctx, ()| ctx.set_auto_read(true),
    );
}

/// The client side: a TLS connection's pipeline.
#[derive(Debug)]
pub(super) struct Front {
    upstream_addr: Arc<str>,
    upstream: Option<Channel>,
    /// Read before the upstream connection was up.
    early: Vec<Bytes>,
    /// The client ended its stream (half-close): the upstream's is ended
    /// too once it is up, and its answer still comes back.
    input_done: bool,
    totals: Arc<Totals>,
}

impl Front {
    pub(super) fn new(upstream_addr: Arc<str>, totals: Arc<Totals>) -> Self {
        Front {
            upstream_addr,
            upstream: None,
            early: Vec::new(),
            input_done: false,
            totals,
        }
    }

    fn connect(&mut self, ctx: &mut Context<'_, Nothing>) {
        let Some(client) = Channel::from_context(ctx) else {
            ctx.close();
            return;
        };
        // Nothing more from the client until the upstream is there.
        ctx.set_auto_read(false);
        let addr = self.upstream_addr.clone();
        let totals = self.totals.clone();
        ctx.spawn(
            async move {
                let addr = tokio::net::lookup_host(&*addr)
                    .await?
                    .next()
                    .ok_or_else(|| std::io::Error::other(format!("{addr}: no address")))?;
                connect_tcp(addr, &ChannelConfig::default(), move |p| {
                    p.handlers().add_last("back", Back { client, totals })?;
                    Ok(())
                })
                .await
                .map_err(std::io::Error::other)
            },
            |this: &mut Front, ctx, up: std::io::Result<Channel>| match up {
                Ok(up) => {
                    for b in this.early.drain(..) {
                        drop(up.write(b));
                    }
                    up.flush();
                    if this.input_done {
                        up.shutdown_output();
                    }
                    this.upstream = Some(up);
                    ctx.set_auto_read(true);
                }
                Err(e) => {
                    tracing::info!(upstream = %this.upstream_addr, "cannot reach the upstream: {e}");
                    ctx.close();
                }
            },
        );
    }
}

impl Handler for Front {
    type In = Bytes;
    type Out = Nothing;

    fn read(&mut self, ctx: &mut Context<'_, Nothing>, bytes: Bytes) {
        match &self.upstream {
            Some(up) => forward::<Self>(ctx, &up.clone(), bytes, &self.totals.to_upstream),
            None => {
                self.totals
                    .to_upstream
                    .fetch_add(bytes.len() as u64, Ordering::Relaxed);
                self.early.push(bytes);
            }
        }
    }

    fn event(&mut self, ctx: &mut Context<'_, Nothing>, event: Event) {
        match &event {
            Event::Active => self.connect(ctx),
            Event::User(v) if v.is::<InputShutdown>() => {
                self.input_done = true;
                if let Some(up) = &self.upstream {
                    up.shutdown_output();
                }
            }
            Event::Inactive => {
                if let Some(up) = &self.upstream {
                    up.close();
                }
            }
            _ => {}
        }
        ctx.fire_event(event);
    }
}

/// The upstream side: writes what the upstream sends back to the client.
#[derive(Debug)]
struct Back {
    client: Channel,
    totals: Arc<Totals>,
}

impl Handler for Back {
    type In = Bytes;
    type Out = Nothing;

    fn read(&mut self, ctx: &mut Context<'_, Nothing>, bytes: Bytes) {
        forward::<Self>(ctx, &self.client.clone(), bytes, &self.totals.to_client);
    }

    fn event(&mut self, ctx: &mut Context<'_, Nothing>, event: Event) {
        if let Event::Inactive = event {
            self.client.close();
        }
        ctx.fire_event(event);
    }
}
