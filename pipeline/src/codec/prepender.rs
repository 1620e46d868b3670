//! [`LengthFieldPrepender`]: puts a length field in front of each outbound
//! message, without touching the message's bytes.
//!
//! ```text
//! WRITE (12 bytes)          HEAD RECEIVES (Composite: 2 segments, body not copied)
//! +----------------+        +--------+----------------+
//! | "HELLO, WORLD" | -----> + 0x000C | "HELLO, WORLD" |
//! +----------------+        +--------+----------------+
//! ```
//!
//! ```
//! use bytes::Bytes;
//! use weft_pipeline::codec::LengthFieldPrepender;
//! use weft_pipeline::{EmbeddedChannel, Pipeline, Wire};
//!
//! let mut p = Pipeline::new();
//! p.handlers().add_last("len", LengthFieldPrepender::new(2)?)?;
//! let mut ch = EmbeddedChannel::new(p);
//! let body = Bytes::from_static(b"HELLO, WORLD");
//! ch.write_outbound(body.clone());
//! let Some(Wire::Composite(frame)) = ch.read_outbound_wire() else { panic!("a composite") };
//! assert_eq!(frame, &b"\x00\x0cHELLO, WORLD"[..]);
//! assert_eq!(frame.segments()[1].as_ptr(), body.as_ptr()); // the caller's own bytes
//! # Ok::<(), weft_pipeline::PipelineError>(())
//! ```

use std::io;

use bytes::Bytes;
use weft_buf::CompositeBuf;

use crate::codec::ByteOrder;
use crate::{Context, Handler, Message, MessageTypes, PipelineError, TypeFlow, WritePromise};

/// Prepends a 1, 2, 3, 4 or 8-byte length field to every outbound
/// `Bytes`, `Composite` or `File` message (Netty's `LengthFieldPrepender`).
///
/// A `Bytes` or `Composite` body becomes one `Composite` message: a small
/// header segment followed by the body's own segments. A `File` body is
/// written as two messages: the header `Bytes`, then the region (the write
/// promise goes with the region). A body too long for the field fails the
/// write's promise and fires a [`PipelineError::Encode`]; nothing is written.
///
/// # Examples
///
/// See the [module docs](self).
#[derive(Debug, Clone)]
pub struct LengthFieldPrepender {
    field_len: usize,
    adjustment: i64,
    includes_field: bool,
    order: ByteOrder,
}

impl LengthFieldPrepender {
    /// A prepender writing a big-endian field of `length_field_length`
    /// bytes holding the body length.
    ///
    /// # Errors
    ///
    /// [`PipelineError::InvalidConfig`] if the length is not 1, 2, 3, 4 or 8.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(weft_pipeline::codec::LengthFieldPrepender::new(3).is_ok());
    /// assert!(weft_pipeline::codec::LengthFieldPrepender::new(6).is_err());
    /// ```
    pub fn new(length_field_length: usize) -> Result<Self, PipelineError> {
        if ![1, 2, 3, 4, 8].contains(&length_field_length) {
            return Err(PipelineError::InvalidConfig(format!(
                "length field length must be 1, 2, 3, 4 or 8, not {length_field_length}"
            )));
        }
        Ok(LengthFieldPrepender {
            field_len: length_field_length,
            adjustment: 0,
            includes_field: false,
            order: ByteOrder::BigEndian,
        })
    }

    /// Adds `adjustment` to every length written.
    ///
    /// # Examples
    ///
    /// ```
    /// let p = weft_pipeline::codec::LengthFieldPrepender::new(2).unwrap().length_adjustment(1);
    /// # drop(p);
    /// ```
    #[must_use]
    pub fn length_adjustment(mut self, adjustment: i64) -> Self {
        self.adjustment = adjustment;
        self
    }

    /// Counts the field's own bytes in the length written.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_pipeline::codec::LengthFieldPrepender;
    /// let p = LengthFieldPrepender::new(2).unwrap().includes_length_field(true);
    /// assert_eq!(p.header(3).unwrap(), &[0, 5][..]);
    /// ```
    #[must_use]
    pub fn includes_length_field(mut self, on: bool) -> Self {
        self.includes_field = on;
        self
    }

    /// Sets the byte order of the field.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_pipeline::codec::{ByteOrder, LengthFieldPrepender};
    /// let p = LengthFieldPrepender::new(2).unwrap().byte_order(ByteOrder::LittleEndian);
    /// assert_eq!(p.header(1).unwrap(), &[1, 0][..]);
    /// ```
    #[must_use]
    pub fn byte_order(mut self, order: ByteOrder) -> Self {
        self.order = order;
        self
    }

    /// The header for a body of `body_len` bytes.
    ///
    /// # Errors
    ///
    /// [`PipelineError::Encode`] if the length (after adjustment) is
    /// negative or does not fit in the field.
    ///
    /// # Examples
    ///
    /// ```
    /// let p = weft_pipeline::codec::LengthFieldPrepender::new(1).unwrap();
    /// assert_eq!(p.header(255).unwrap(), &[255][..]);
    /// assert!(p.header(256).is_err());
    /// ```
    pub fn header(&self, body_len: u64) -> Result<Bytes, PipelineError> {
        let mut len = i128::from(body_len) + i128::from(self.adjustment);
        if self.includes_field {
            len += self.field_len as i128;
        }
        let max: i128 = if self.field_len == 8 {
            i128::from(u64::MAX)
        } else {
            (1i128 << (8 * self.field_len)) - 1
        };
        if !(0..=max).contains(&len) {
            return Err(PipelineError::encode(format!(
                "length {len} does not fit in a {}-byte length field",
                self.field_len
            )));
        }
        let v = u64::try_from(len).unwrap_or(0);
        let be = v.to_be_bytes();
        let le = v.to_le_bytes();
        let field = match self.order {
            ByteOrder::BigEndian => &be[8 - self.field_len..],
            ByteOrder::LittleEndian => &le[..self.field_len],
        };
        // A header of at most 8 bytes is not payload: not counted as a copy.
        Ok(Bytes::copy_from_slice(field))
    }
}

impl Handler for LengthFieldPrepender {
    type In = Message;
    type Out = Message;

    fn read(&mut self, ctx: &mut Context<'_>, msg: Message) {
        ctx.fire_read(msg);
    }

    fn outbound_types(&self) -> TypeFlow {
        TypeFlow::transform(
            MessageTypes::WIRE,
            MessageTypes::COMPOSITE
                .or(MessageTypes::BYTES)
                .or(MessageTypes::FILE),
        )
    }

    fn write(&mut self, ctx: &mut Context<'_>, msg: Message, promise: Option<WritePromise>) {
        if let Message::User(_) = msg {
            let err = PipelineError::UnexpectedMessage {
                handler: ctx.name().to_string(),
                got: msg.kind().to_string(),
            };
            if let Some(p) = promise {
                p.fail(io::Error::new(io::ErrorKind::InvalidInput, err.to_string()));
            }
            ctx.fire_exception(err);
            return;
        }
        let header = match self.header(msg.len()) {
            Ok(h) => h,
            Err(e) => {
                if let Some(p) = promise {
                    p.fail(io::Error::new(io::ErrorKind::InvalidInput, e.to_string()));
                }
                ctx.fire_exception(e);
                return;
            }
        };
        match msg {
            Message::Bytes(body) => {
                let mut frame = CompositeBuf::with_capacity(2);
                frame.push(header);
                frame.push(body);
                ctx.write_with_promise(frame, promise);
            }
            Message::Composite(body) => {
                let mut frame = CompositeBuf::with_capacity(body.segments().len() + 1);
                frame.push(header);
                frame.append(body);
                ctx.write_with_promise(frame, promise);
            }
            Message::File(region) => {
                ctx.write(header);
                ctx.write_with_promise(region, promise);
            }
            Message::User(_) => {}
        }
    }
}
