//! Decoders, encoders and adapters.
//!
//! - [`ByteToMessageDecoder`] runs any [`FrameDecoder`], cumulating reads
//!   as segments of a `CompositeBuf` (no copy);
//! - framing codecs: [`LengthFieldBasedFrameDecoder`],
//!   [`LengthFieldPrepender`], [`LineBasedFrameDecoder`],
//!   [`DelimiterBasedFrameDecoder`], [`FixedLengthFrameDecoder`];
//! - [`DecoderAdapter`] / [`EncoderAdapter`]: any `tokio_util::codec`
//!   decoder or encoder as a handler;
//! - [`MessageDecoder`] / [`MessageEncoder`]: typed message-to-message
//!   transforms from closures.

pub mod adapter;
pub mod decoder;
pub mod delimiter;
pub mod fixed;
pub mod length_field;
pub mod line;
pub mod message;
pub mod prepender;

pub use adapter::{DecoderAdapter, EncoderAdapter};
pub use decoder::{
    ByteToMessageDecoder, FrameDecoder, DEFAULT_MERGE_THRESHOLD, MAX_CUMULATION_SEGMENTS,
};
pub use delimiter::DelimiterBasedFrameDecoder;
pub use fixed::FixedLengthFrameDecoder;
pub use length_field::{ByteOrder, LengthFieldBasedFrameDecoder};
pub use line::LineBasedFrameDecoder;
pub use message::{MessageDecoder, MessageEncoder};
pub use prepender::LengthFieldPrepender;
