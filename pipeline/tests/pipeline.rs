//! The pipeline's contract: typed chains, changes while events flow,
//! ordering, Netty's write semantics, what the tail and head do.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use weft_buf::CompositeBuf;
use weft_pipeline::codec::{ByteToMessageDecoder, FixedLengthFrameDecoder, LineBasedFrameDecoder};
use weft_pipeline::{
    Batch, Context, Direction, EmbeddedChannel, Event, Handler, HeadOp, IdleState, IdleStateEvent,
    IdleStateHandler, Message, MessageTypes, Nothing, Pipeline, PipelineError, TypeFlow, Wire,
    WritePromise,
};

type Log = Arc<Mutex<Vec<String>>>;

fn log() -> Log {
    Arc::new(Mutex::new(Vec::new()))
}

fn entries(log: &Log) -> Vec<String> {
    log.lock().unwrap().clone()
}

fn text(msg: &Message) -> String {
    msg.to_bytes()
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

/// Logs every inbound read and outbound write it sees, and passes them on.
struct Spy(&'static str, Log);

impl Handler for Spy {
    type In = Message;
    type Out = Message;

    fn handler_added(&mut self, _ctx: &mut Context<'_>) {
        self.1.lock().unwrap().push(format!("{}:added", self.0));
    }
    fn handler_removed(&mut self, _ctx: &mut Context<'_>) {
        self.1.lock().unwrap().push(format!("{}:removed", self.0));
    }
    fn read(&mut self, ctx: &mut Context<'_>, msg: Message) {
        let t = text(&msg);
        self.1.lock().unwrap().push(format!("{}:read:{t}", self.0));
        ctx.fire_read(msg);
    }
    fn write(&mut self, ctx: &mut Context<'_>, msg: Message, p: Option<WritePromise>) {
        let t = text(&msg);
        self.1.lock().unwrap().push(format!("{}:write:{t}", self.0));
        ctx.write_with_promise(msg, p);
    }
}

/// Emits `Bytes` inbound, takes anything.
struct BytesOut;
impl Handler for BytesOut {
    type In = Message;
    type Out = Bytes;
    fn read(&mut self, ctx: &mut Context<'_, Bytes>, msg: Message) {
        ctx.fire_read(msg.to_bytes().unwrap_or_default());
    }
}

/// Takes only `String` inbound.
struct StringsIn;
impl Handler for StringsIn {
    type In = String;
    type Out = Nothing;
    fn read(&mut self, _ctx: &mut Context<'_, Nothing>, _msg: String) {}
}

/// Bytes -> String inbound.
struct ToText;
impl Handler for ToText {
    type In = Bytes;
    type Out = String;
    fn read(&mut self, ctx: &mut Context<'_, String>, msg: Bytes) {
        ctx.fire_read(String::from_utf8_lossy(&msg).into_owned());
    }
}

/// Passes everything on.
struct Nop;
impl Handler for Nop {
    type In = Message;
    type Out = Message;
    fn read(&mut self, ctx: &mut Context<'_>, msg: Message) {
        ctx.fire_read(msg);
    }
}

fn texts(ch: &mut EmbeddedChannel) -> Vec<String> {
    let mut out = Vec::new();
    while let Some(b) = ch.read_inbound_bytes() {
        out.push(String::from_utf8_lossy(&b).into_owned());
    }
    out
}

fn wire_text(w: &Wire) -> String {
    match w {
        Wire::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
        Wire::Composite(c) => String::from_utf8_lossy(&c.to_bytes()).into_owned(),
        Wire::File(f) => format!("file of {} bytes", f.len()),
    }
}

/// After the line "SWITCH", replaces the line decoder with 3-byte frames.
struct Switcher;
impl Handler for Switcher {
    type In = CompositeBuf;
    type Out = CompositeBuf;
    fn read(&mut self, ctx: &mut Context<'_, CompositeBuf>, frame: CompositeBuf) {
        if frame == b"SWITCH"[..] {
            let fixed = ByteToMessageDecoder::new(FixedLengthFrameDecoder::new(3).unwrap());
            ctx.handlers().replace("decoder", "fixed", fixed).unwrap();
        } else {
            ctx.fire_read(frame);
        }
    }
}

#[test]
fn pipeline_is_send_and_static() {
    fn check<T: Send + 'static>() {}
    check::<Pipeline>();
    check::<EmbeddedChannel>();
    check::<Message>();
    check::<HeadOp>();
}

#[test]
fn mismatch_at_build_time_names_both_handlers_and_changes_nothing() {
    let mut p = Pipeline::new();
    p.handlers().add_last("bytes", BytesOut).unwrap();
    let err = p.handlers().add_last("strings", StringsIn).unwrap_err();
    match &err {
        PipelineError::TypeMismatch {
            direction,
            from,
            to,
            ..
        } => {
            assert_eq!(*direction, Direction::Inbound);
            assert_eq!(from, "bytes");
            assert_eq!(to, "strings");
        }
        other => panic!("expected a type mismatch, got {other}"),
    }
    assert_eq!(
        err.to_string(),
        "inbound type mismatch: `bytes` emits Bytes but `strings` takes User(alloc::string::String)"
    );
    assert_eq!(p.names(), ["bytes"]);
    // pass-through handlers in between are looked through
    p.handlers().add_last("nop", Nop).unwrap();
    assert!(p.handlers().add_last("strings", StringsIn).is_err());
    p.handlers().add_before("nop", "convert", ToText).unwrap();
    p.handlers().add_last("strings", StringsIn).unwrap();
    assert_eq!(p.names(), ["bytes", "convert", "nop", "strings"]);
}

#[test]
fn mismatch_at_change_time_is_refused() {
    let mut p = Pipeline::new();
    p.handlers()
        .add_last("bytes", BytesOut)
        .unwrap()
        .add_last("convert", ToText)
        .unwrap()
        .add_last("strings", StringsIn)
        .unwrap();
    assert!(matches!(
        p.handlers().remove("convert"),
        Err(PipelineError::TypeMismatch { .. })
    ));
    assert!(matches!(
        p.handlers().replace("convert", "nop", Nop),
        Err(PipelineError::TypeMismatch { .. })
    ));
    assert!(matches!(
        p.handlers().add_after("bytes", "strings2", StringsIn),
        Err(PipelineError::TypeMismatch { .. })
    ));
    assert_eq!(p.names(), ["bytes", "convert", "strings"]);
    // replacing with a compatible handler works
    p.handlers().replace("convert", "convert2", ToText).unwrap();
    assert_eq!(p.names(), ["bytes", "convert2", "strings"]);
}

#[test]
fn outbound_mismatch_is_checked_tail_to_head() {
    struct WritesStrings;
    impl Handler for WritesStrings {
        type In = Message;
        type Out = Message;
        fn read(&mut self, ctx: &mut Context<'_>, msg: Message) {
            ctx.fire_read(msg);
        }
        fn outbound_types(&self) -> TypeFlow {
            TypeFlow::transform(MessageTypes::ANY, MessageTypes::of::<String>())
        }
    }
    struct EncodesBytes;
    impl Handler for EncodesBytes {
        type In = Message;
        type Out = Message;
        fn read(&mut self, ctx: &mut Context<'_>, msg: Message) {
            ctx.fire_read(msg);
        }
        fn outbound_types(&self) -> TypeFlow {
            TypeFlow::transform(MessageTypes::BYTES, MessageTypes::BYTES)
        }
    }
    let mut p = Pipeline::new();
    p.handlers().add_last("encoder", EncodesBytes).unwrap();
    let err = p.handlers().add_last("app", WritesStrings).unwrap_err();
    assert!(
        matches!(&err, PipelineError::TypeMismatch { direction: Direction::Outbound, from, to, .. }
            if from == "app" && to == "encoder"),
        "{err}"
    );
}

#[test]
fn framing_decoder_refuses_a_bytes_only_successor() {
    struct BytesOnly;
    impl Handler for BytesOnly {
        type In = Bytes;
        type Out = Nothing;
        fn read(&mut self, _ctx: &mut Context<'_, Nothing>, _msg: Bytes) {}
    }
    let mut p = Pipeline::new();
    p.handlers()
        .add_last(
            "lines",
            ByteToMessageDecoder::new(LineBasedFrameDecoder::new(8)),
        )
        .unwrap();
    let err = p.handlers().add_last("app", BytesOnly).unwrap_err();
    assert!(
        err.to_string().contains("`lines` emits Bytes | Composite"),
        "{err}"
    );
}

#[test]
fn mismatch_from_inside_a_handler_returns_to_the_caller() {
    struct Installer;
    impl Handler for Installer {
        type In = Message;
        type Out = Bytes;
        fn read(&mut self, ctx: &mut Context<'_, Bytes>, msg: Message) {
            if let Err(e) = ctx.handlers().add_after("installer", "strings", StringsIn) {
                ctx.fire_exception(e);
            }
            ctx.fire_read(msg.to_bytes().unwrap_or_default());
        }
    }
    let mut p = Pipeline::new();
    p.handlers().add_last("installer", Installer).unwrap();
    let mut ch = EmbeddedChannel::new(p);
    ch.write_inbound(Bytes::from_static(b"x"));
    let errs = ch.take_exceptions();
    assert!(
        matches!(errs.as_slice(), [PipelineError::TypeMismatch { .. }]),
        "{errs:?}"
    );
    assert_eq!(ch.pipeline().names(), ["installer"]);
}

#[test]
fn duplicate_and_unknown_names_are_errors() {
    let mut p = Pipeline::new();
    p.handlers().add_last("a", Nop).unwrap();
    assert!(
        matches!(p.handlers().add_last("a", Nop), Err(PipelineError::DuplicateName(n)) if n == "a")
    );
    assert!(matches!(
        p.handlers().add_first("a", Nop),
        Err(PipelineError::DuplicateName(_))
    ));
    assert!(
        matches!(p.handlers().add_before("x", "b", Nop), Err(PipelineError::UnknownName(n)) if n == "x")
    );
    assert!(matches!(
        p.handlers().add_after("x", "b", Nop),
        Err(PipelineError::UnknownName(_))
    ));
    assert!(matches!(
        p.handlers().remove("x"),
        Err(PipelineError::UnknownName(_))
    ));
    assert!(matches!(
        p.handlers().replace("x", "b", Nop),
        Err(PipelineError::UnknownName(_))
    ));
    p.handlers().add_last("b", Nop).unwrap();
    assert!(matches!(
        p.handlers().replace("a", "b", Nop),
        Err(PipelineError::DuplicateName(_))
    ));
    // replacing under the same name is fine
    p.handlers().replace("a", "a", Nop).unwrap();
    assert_eq!(p.names(), ["a", "b"]);
}

#[test]
fn lifecycle_callbacks_run_in_order() {
    let l = log();
    let mut p = Pipeline::new();
    p.handlers().add_last("a", Spy("a", l.clone())).unwrap();
    p.handlers().replace("a", "b", Spy("b", l.clone())).unwrap();
    p.handlers().remove("b").unwrap();
    assert_eq!(
        entries(&l),
        ["a:added", "a:removed", "b:added", "b:removed"]
    );
}

#[test]
fn queued_events_run_depth_first_in_the_order_made() {
    /// Turns each read into two: "<x>1" and "<x>2".
    struct Twice;
    impl Handler for Twice {
        type In = Bytes;
        type Out = Bytes;
        fn read(&mut self, ctx: &mut Context<'_, Bytes>, b: Bytes) {
            for suffix in [b"1", b"2"] {
                let mut v = b.to_vec();
                v.extend_from_slice(suffix);
                ctx.fire_read(Bytes::from(v));
            }
        }
    }
    let l = log();
    let mut p = Pipeline::new();
    p.handlers()
        .add_last("t1", Twice)
        .unwrap()
        .add_last("t2", Twice)
        .unwrap()
        .add_last("spy", Spy("spy", l.clone()))
        .unwrap();
    let mut ch = EmbeddedChannel::new(p);
    ch.write_inbound(Bytes::from_static(b"x"));
    assert_eq!(
        entries(&l),
        [
            "spy:added",
            "spy:read:x11",
            "spy:read:x12",
            "spy:read:x21",
            "spy:read:x22"
        ]
    );
    assert_eq!(texts(&mut ch), ["x11", "x12", "x21", "x22"]);
}

#[test]
fn a_handler_finishes_before_its_events_run() {
    struct Before(Log);
    impl Handler for Before {
        type In = Message;
        type Out = Message;
        fn read(&mut self, ctx: &mut Context<'_>, msg: Message) {
            ctx.fire_read(msg);
            self.0.lock().unwrap().push("before:returned".into());
        }
    }
    let l = log();
    let mut p = Pipeline::new();
    p.handlers()
        .add_last("before", Before(l.clone()))
        .unwrap()
        .add_last("spy", Spy("spy", l.clone()))
        .unwrap();
    let mut ch = EmbeddedChannel::new(p);
    ch.write_inbound(Bytes::from_static(b"m"));
    assert_eq!(entries(&l), ["spy:added", "before:returned", "spy:read:m"]);
}

#[test]
fn writes_from_inside_read_reach_the_head_in_order() {
    struct Reply;
    impl Handler for Reply {
        type In = Message;
        type Out = Message;
        fn read(&mut self, ctx: &mut Context<'_>, msg: Message) {
            ctx.write(Bytes::from_static(b"a"));
            ctx.write(msg);
            ctx.write(Bytes::from_static(b"c"));
            ctx.flush();
        }
    }
    let mut p = Pipeline::new();
    p.handlers().add_last("reply", Reply).unwrap();
    let mut ch = EmbeddedChannel::new(p);
    ch.write_inbound(Bytes::from_static(b"b"));
    let mut seen = Vec::new();
    while let Some(op) = ch.read_outbound() {
        seen.push(match op {
            HeadOp::Write(w, _) => wire_text(&w),
            HeadOp::Flush => "flush".into(),
            HeadOp::Close => "close".into(),
        });
    }
    assert_eq!(seen, ["a", "b", "c", "flush"]);
}

#[test]
fn ctx_write_skips_handlers_after_the_caller_but_pipeline_write_does_not() {
    /// Writes "r" from read: with ctx.write or from the tail.
    struct App(bool);
    impl Handler for App {
        type In = Message;
        type Out = Message;
        fn read(&mut self, ctx: &mut Context<'_>, _msg: Message) {
            if self.0 {
                ctx.write_from_tail(Bytes::from_static(b"r"), None);
            } else {
                ctx.write(Bytes::from_static(b"r"));
            }
        }
    }
    for from_tail in [false, true] {
        let l = log();
        let mut p = Pipeline::new();
        p.handlers()
            .add_last("before", Spy("before", l.clone()))
            .unwrap()
            .add_last("app", App(from_tail))
            .unwrap()
            .add_last("after", Spy("after", l.clone()))
            .unwrap();
        let mut ch = EmbeddedChannel::new(p);
        ch.write_inbound(Bytes::from_static(b"q"));
        let writes: Vec<String> = entries(&l)
            .into_iter()
            .filter(|e| e.contains(":write:"))
            .collect();
        if from_tail {
            assert_eq!(writes, ["after:write:r", "before:write:r"]);
        } else {
            assert_eq!(
                writes,
                ["before:write:r"],
                "ctx.write starts before the caller"
            );
        }
        // Pipeline::write always starts at the tail
        ch.write_outbound(Bytes::from_static(b"w"));
        assert!(entries(&l).ends_with(&["after:write:w".into(), "before:write:w".into()]));
    }
}

#[test]
fn removed_handler_gets_no_more_events_and_the_next_event_uses_the_new_chain() {
    /// On the first read: removes "b", then passes the read on.
    struct RemoveB;
    impl Handler for RemoveB {
        type In = Message;
        type Out = Message;
        fn read(&mut self, ctx: &mut Context<'_>, msg: Message) {
            if ctx.handlers().contains("b") {
                ctx.handlers().remove("b").unwrap();
            }
            ctx.fire_read(msg);
        }
    }
    let l = log();
    let mut p = Pipeline::new();
    p.handlers()
        .add_last("a", RemoveB)
        .unwrap()
        .add_last("b", Spy("b", l.clone()))
        .unwrap()
        .add_last("c", Spy("c", l.clone()))
        .unwrap();
    let mut ch = EmbeddedChannel::new(p);
    ch.write_inbound(Bytes::from_static(b"1"));
    ch.write_inbound(Bytes::from_static(b"2"));
    assert_eq!(
        entries(&l),
        ["b:added", "c:added", "b:removed", "c:read:1", "c:read:2"]
    );
    assert_eq!(ch.pipeline().names(), ["a", "c"]);
}

#[test]
fn handler_added_during_dispatch_sees_the_next_event() {
    struct AddSpy(Log);
    impl Handler for AddSpy {
        type In = Message;
        type Out = Message;
        fn read(&mut self, ctx: &mut Context<'_>, msg: Message) {
            if !ctx.handlers().contains("spy") {
                ctx.handlers()
                    .add_last("spy", Spy("spy", self.0.clone()))
                    .unwrap();
            }
            ctx.fire_read(msg);
        }
    }
    let l = log();
    let mut p = Pipeline::new();
    p.handlers().add_last("adder", AddSpy(l.clone())).unwrap();
    let mut ch = EmbeddedChannel::new(p);
    ch.write_inbound(Bytes::from_static(b"1"));
    assert_eq!(entries(&l), ["spy:added", "spy:read:1"]);
}

#[test]
fn protocol_switch_hands_buffered_bytes_to_the_new_decoder() {
    let mut p = Pipeline::new();
    p.handlers()
        .add_last(
            "decoder",
            ByteToMessageDecoder::new(LineBasedFrameDecoder::new(64)),
        )
        .unwrap()
        .add_last("switcher", Switcher)
        .unwrap();
    let mut ch = EmbeddedChannel::new(p);
    ch.write_inbound(Bytes::from_static(b"hello\nSWITCH\nabcde"));
    ch.write_inbound(Bytes::from_static(b"f"));
    assert_eq!(texts(&mut ch), ["hello", "abc", "def"]);
    assert_eq!(ch.pipeline().names(), ["fixed", "switcher"]);
}

#[test]
fn handler_replacing_itself_routes_its_later_events_past_its_old_place() {
    struct Once;
    impl Handler for Once {
        type In = Message;
        type Out = Message;
        fn read(&mut self, ctx: &mut Context<'_>, msg: Message) {
            ctx.handlers().replace("once", "spy-new", Nop).unwrap();
            ctx.fire_read(msg); // goes to the replacement, then on
        }
    }
    let mut p = Pipeline::new();
    p.handlers().add_last("once", Once).unwrap();
    let mut ch = EmbeddedChannel::new(p);
    ch.write_inbound(Bytes::from_static(b"1"));
    ch.write_inbound(Bytes::from_static(b"2"));
    assert_eq!(texts(&mut ch), ["1", "2"]);
    assert_eq!(ch.pipeline().names(), ["spy-new"]);
}

#[test]
fn unconsumed_message_at_the_tail_is_counted_not_lost_silently() {
    let mut p = Pipeline::new();
    p.handlers().add_last("nop", Nop).unwrap();
    p.fire_read(Bytes::from_static(b"abc").into());
    p.fire_read(Message::user(1u32));
    let s = p.stats();
    assert_eq!(s.unconsumed_reads, 2);
    assert_eq!(s.unconsumed_bytes, 3);
}

#[test]
fn unhandled_exception_closes_and_is_counted() {
    let mut p = Pipeline::new();
    p.handlers().add_last("nop", Nop).unwrap();
    p.fire_exception(PipelineError::decode("bad"));
    let ops = p.recorder().expect("a new pipeline's head").take_ops();
    assert!(matches!(ops.front(), Some(HeadOp::Close)), "{ops:?}");
    assert_eq!(p.stats().unhandled_exceptions, 1);
    let errs = p.take_unhandled_exceptions();
    assert_eq!(errs[0].to_string(), "decode error: bad");
}

#[test]
fn handled_exception_does_not_close() {
    struct Swallow;
    impl Handler for Swallow {
        type In = Message;
        type Out = Message;
        fn read(&mut self, ctx: &mut Context<'_>, msg: Message) {
            ctx.fire_read(msg);
        }
        fn event(&mut self, ctx: &mut Context<'_>, event: Event) {
            if !matches!(event, Event::Exception(_)) {
                ctx.fire_event(event);
            }
        }
    }
    let mut p = Pipeline::new();
    p.handlers().add_last("swallow", Swallow).unwrap();
    let mut ch = EmbeddedChannel::new(p);
    ch.fire_exception(PipelineError::decode("bad"));
    assert!(!ch.is_closed());
    assert_eq!(ch.stats().unhandled_exceptions, 0);
}

#[test]
fn user_message_at_the_head_fails_its_promise_and_is_counted() {
    let mut p = Pipeline::new();
    let (promise, fut) = WritePromise::new();
    p.write(Message::user(5u8), Some(promise));
    assert!(p
        .recorder()
        .expect("a new pipeline's head")
        .ops()
        .is_empty());
    assert_eq!(p.stats().unwritable_at_head, 1);
    let err = futures::executor::block_on(fut).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
}

#[test]
fn promise_travels_with_the_write_to_the_head() {
    let mut ch = EmbeddedChannel::new(Pipeline::new());
    let (promise, fut) = WritePromise::new();
    ch.pipeline_mut()
        .write(Bytes::from_static(b"x").into(), Some(promise));
    let Some(HeadOp::Write(_, Some(p))) = ch.read_outbound() else {
        panic!("write with promise expected")
    };
    p.succeed();
    assert!(futures::executor::block_on(fut).is_ok());
}

#[test]
fn writability_and_auto_read_reach_handlers_and_head() {
    struct Backpressure;
    impl Handler for Backpressure {
        type In = Message;
        type Out = Message;
        fn read(&mut self, ctx: &mut Context<'_>, msg: Message) {
            ctx.fire_read(msg);
        }
        fn event(&mut self, ctx: &mut Context<'_>, event: Event) {
            if let Event::Writability(writable) = event {
                assert_eq!(ctx.is_writable(), writable);
                ctx.set_auto_read(writable);
            }
            ctx.fire_event(event);
        }
    }
    let mut p = Pipeline::new();
    p.handlers().add_last("bp", Backpressure).unwrap();
    let mut ch = EmbeddedChannel::new(p);
    ch.set_writable(false);
    assert!(!ch.auto_read());
    assert!(
        ch.read_outbound().is_none(),
        "auto-read is channel state, not an outbound operation"
    );
    ch.set_writable(true);
    assert!(ch.auto_read());
}

#[test]
fn close_travels_outbound_and_the_channel_goes_inactive_once() {
    struct CountInactive(Log);
    impl Handler for CountInactive {
        type In = Message;
        type Out = Message;
        fn read(&mut self, ctx: &mut Context<'_>, msg: Message) {
            ctx.fire_read(msg);
        }
        fn event(&mut self, ctx: &mut Context<'_>, event: Event) {
            if matches!(event, Event::Inactive) {
                self.0.lock().unwrap().push("inactive".into());
            }
            ctx.fire_event(event);
        }
    }
    let l = log();
    let mut p = Pipeline::new();
    p.handlers()
        .add_last("c", CountInactive(l.clone()))
        .unwrap();
    let mut ch = EmbeddedChannel::new(p);
    ch.close();
    ch.close();
    ch.finish();
    assert!(ch.is_closed());
    assert_eq!(entries(&l), ["inactive"]);
}

#[test]
fn reader_idle_fires_after_the_timeout_and_repeats_until_a_read() {
    let mut p = Pipeline::new();
    p.handlers()
        .add_last(
            "idle",
            IdleStateHandler::new(Some(Duration::from_secs(10)), None, None),
        )
        .unwrap();
    let mut ch = EmbeddedChannel::new(p);
    let t0 = ch.now();
    assert_eq!(
        ch.pipeline().next_deadline(),
        Some(t0 + Duration::from_secs(10))
    );
    ch.advance(Duration::from_secs(10));
    assert_eq!(
        ch.read_user_event::<IdleStateEvent>(),
        Some(IdleStateEvent {
            state: IdleState::ReaderIdle,
            first: true
        })
    );
    ch.advance(Duration::from_secs(10));
    assert_eq!(
        ch.read_user_event::<IdleStateEvent>(),
        Some(IdleStateEvent {
            state: IdleState::ReaderIdle,
            first: false
        })
    );
    ch.advance(Duration::from_secs(5));
    ch.write_inbound(Bytes::from_static(b"x"));
    ch.advance(Duration::from_secs(9));
    assert!(
        ch.read_user_event::<IdleStateEvent>().is_none(),
        "the read reset it"
    );
    ch.advance(Duration::from_secs(1));
    assert_eq!(
        ch.read_user_event::<IdleStateEvent>(),
        Some(IdleStateEvent {
            state: IdleState::ReaderIdle,
            first: true
        })
    );
}

#[test]
fn writer_and_all_idle_track_writes_and_reads() {
    let mut p = Pipeline::new();
    p.handlers()
        .add_last(
            "idle",
            IdleStateHandler::new(
                None,
                Some(Duration::from_secs(4)),
                Some(Duration::from_secs(6)),
            ),
        )
        .unwrap();
    let mut ch = EmbeddedChannel::new(p);
    ch.advance(Duration::from_secs(3));
    ch.write_outbound(Bytes::from_static(b"w"));
    ch.advance(Duration::from_secs(3)); // t=6: writer wrote at 3, all-idle: last activity 3
    assert!(ch.read_user_event::<IdleStateEvent>().is_none());
    ch.advance(Duration::from_secs(1)); // t=7: writer idle (3+4)
    assert_eq!(
        ch.read_user_event::<IdleStateEvent>().map(|e| e.state),
        Some(IdleState::WriterIdle)
    );
    ch.write_inbound(Bytes::from_static(b"r")); // t=7: all-idle reset by the read
    ch.advance(Duration::from_secs(2)); // t=9: all would have fired at 3+6 without the read
    assert!(ch.read_user_event::<IdleStateEvent>().is_none());
    ch.advance(Duration::from_secs(4)); // t=13: all idle (7+6), writer again (7+4=11)
    let mut states = Vec::new();
    while let Some(e) = ch.read_user_event::<IdleStateEvent>() {
        states.push(e.state);
    }
    assert_eq!(states, [IdleState::WriterIdle, IdleState::AllIdle]);
}

#[test]
fn idle_handler_stops_when_the_channel_closes() {
    let mut p = Pipeline::new();
    p.handlers()
        .add_last(
            "idle",
            IdleStateHandler::new(Some(Duration::from_secs(1)), None, None),
        )
        .unwrap();
    let mut ch = EmbeddedChannel::new(p);
    ch.close();
    assert_eq!(ch.pipeline().next_deadline(), None);
    ch.advance(Duration::from_secs(5));
    assert!(ch.read_user_event::<IdleStateEvent>().is_none());
}

#[test]
fn single_decode_lets_a_switch_take_the_frames_after_it() {
    for single in [false, true] {
        let mut lines = ByteToMessageDecoder::new(LineBasedFrameDecoder::new(64));
        lines.single_decode(single);
        let mut p = Pipeline::new();
        p.handlers()
            .add_last("decoder", lines)
            .unwrap()
            .add_last("switcher", Switcher)
            .unwrap();
        let mut ch = EmbeddedChannel::new(p);
        ch.write_inbound(Bytes::from_static(b"a\nSWITCH\nbc\nde\nf"));
        if single {
            // everything after "SWITCH\n" reaches the new decoder as bytes
            assert_eq!(texts(&mut ch), ["a", "bc\n", "de\n"]);
        } else {
            // the line decoder cut every frame of the read first, and they
            // reached `switcher` in one batch: "bc" and "de" were still
            // lines, handed on by `switcher` itself; only the undecoded "f"
            // went to the new decoder (the pitfall single_decode avoids)
            assert_eq!(texts(&mut ch), ["a", "bc", "de"]);
            assert!(!ch.finish());
            let errs = ch.take_exceptions();
            assert!(
                matches!(errs.as_slice(), [e] if e.to_string().contains("1 bytes left")),
                "{errs:?}"
            );
        }
    }
}

/// Counts `read_batch` calls and the size of each batch.
struct CountBatches(Arc<Mutex<Vec<usize>>>);
impl Handler for CountBatches {
    type In = CompositeBuf;
    type Out = Nothing;
    fn read(&mut self, _ctx: &mut Context<'_, Nothing>, _frame: CompositeBuf) {
        panic!("read_batch is overridden: read is never called by the pipeline");
    }
    fn read_batch(&mut self, _ctx: &mut Context<'_, Nothing>, batch: Batch<'_, CompositeBuf>) {
        let n = batch.count();
        self.0.lock().unwrap().push(n);
    }
}

#[test]
fn frames_cut_from_one_read_reach_the_next_handler_in_one_read_batch_call() {
    let calls = Arc::new(Mutex::new(Vec::new()));
    let mut p = Pipeline::new();
    p.handlers()
        .add_last(
            "lines",
            ByteToMessageDecoder::new(LineBasedFrameDecoder::new(16)),
        )
        .unwrap()
        .add_last("count", CountBatches(calls.clone()))
        .unwrap();
    let mut ch = EmbeddedChannel::new(p);
    ch.write_inbound(Bytes::from_static(b"a\nb\nc\nd"));
    assert_eq!(*calls.lock().unwrap(), [3], "one call for the three lines");
    ch.write_inbound(Bytes::from_static(b"\ne\n"));
    ch.write_inbound(Bytes::from_static(b"f\n"));
    assert_eq!(*calls.lock().unwrap(), [3, 2, 1], "one call per read");
}

#[test]
fn reads_fired_in_one_call_travel_as_one_batch_and_an_event_between_splits_them() {
    /// Fires "1", "2", a user event, then "3": two batches around the event.
    struct Burst;
    impl Handler for Burst {
        type In = Bytes;
        type Out = CompositeBuf;
        fn read(&mut self, ctx: &mut Context<'_, CompositeBuf>, _msg: Bytes) {
            ctx.fire_read(Bytes::from_static(b"1").into());
            ctx.fire_read(Bytes::from_static(b"2").into());
            ctx.fire_user_event(0u8);
            ctx.fire_read(Bytes::from_static(b"3").into());
        }
    }
    let calls = Arc::new(Mutex::new(Vec::new()));
    let mut p = Pipeline::new();
    p.handlers()
        .add_last("burst", Burst)
        .unwrap()
        .add_last("count", CountBatches(calls.clone()))
        .unwrap();
    let mut ch = EmbeddedChannel::new(p);
    ch.write_inbound(Bytes::from_static(b"go"));
    assert_eq!(*calls.lock().unwrap(), [2, 1]);
    assert_eq!(ch.read_user_event::<u8>(), Some(0));
}

#[test]
fn a_user_frame_that_fits_inline_travels_as_an_inline_value() {
    #[derive(Debug, PartialEq)]
    struct Small(Bytes, u64);
    impl weft_pipeline::MessageType for Small {}
    const _: () = assert!(weft_pipeline::Value::fits_inline::<Small>());
    struct Big(#[allow(dead_code)] [u64; 16]);
    impl weft_pipeline::MessageType for Big {}

    use weft_pipeline::MessageType;
    let m = Small(Bytes::from_static(b"k"), 7).into_message();
    assert!(matches!(&m, Message::User(v) if v.is_inline()), "{m:?}");
    assert_eq!(
        Small::from_message(m).ok(),
        Some(Small(Bytes::from_static(b"k"), 7))
    );
    let m = Big([0; 16]).into_message();
    assert!(matches!(&m, Message::User(v) if !v.is_inline()), "{m:?}");

    /// Turns each read into a `Small` and checks how it arrives.
    struct Make;
    impl Handler for Make {
        type In = Bytes;
        type Out = Small;
        fn read(&mut self, ctx: &mut Context<'_, Small>, b: Bytes) {
            ctx.fire_read(Small(b, 1));
        }
    }
    struct Look(Log);
    impl Handler for Look {
        type In = Message;
        type Out = Message;
        fn read(&mut self, ctx: &mut Context<'_>, msg: Message) {
            let inline = matches!(&msg, Message::User(v) if v.is_inline());
            self.0.lock().unwrap().push(format!("inline:{inline}"));
            ctx.fire_read(msg);
        }
    }
    let l = log();
    let mut p = Pipeline::new();
    p.handlers()
        .add_last("make", Make)
        .unwrap()
        .add_last("look", Look(l.clone()))
        .unwrap();
    let mut ch = EmbeddedChannel::new(p);
    ch.write_inbound(Bytes::from_static(b"x"));
    assert_eq!(entries(&l), ["inline:true"]);
    assert_eq!(
        ch.read_inbound::<Small>(),
        Some(Small(Bytes::from_static(b"x"), 1))
    );
}

/// Spawns a task per read whose result names the read; the continuation
/// logs the handler it runs on and the result.
struct Spawner(&'static str, Log);
impl Handler for Spawner {
    type In = Bytes;
    type Out = Bytes;
    fn read(&mut self, ctx: &mut Context<'_, Bytes>, msg: Bytes) {
        let tag = String::from_utf8_lossy(&msg).into_owned();
        let me = self.0;
        ctx.spawn(
            async move { format!("{me}/{tag}") },
            |this: &mut Spawner, ctx, result: String| {
                assert_eq!(ctx.name(), this.0);
                this.1
                    .lock()
                    .unwrap()
                    .push(format!("{} ran {result}", this.0));
                ctx.fire_read(Bytes::from(result));
            },
        );
        ctx.fire_read(msg);
    }
}

#[test]
fn spawn_continuations_run_on_their_handler_in_the_order_the_tasks_started() {
    let l = log();
    let mut p = Pipeline::new();
    p.handlers()
        .add_last("a", Spawner("a", l.clone()))
        .unwrap()
        .add_last("b", Spawner("b", l.clone()))
        .unwrap();
    let mut ch = EmbeddedChannel::new(p);
    ch.write_inbound(Bytes::from_static(b"1"));
    ch.write_inbound(Bytes::from_static(b"2"));
    assert!(entries(&l).is_empty(), "nothing runs before the tasks do");
    // a spawns for 1, b for 1, a for 2, b for 2; each of a's continuations
    // fires a read that makes b spawn once more
    assert_eq!(ch.run_tasks(), 6);
    assert_eq!(
        entries(&l),
        [
            "a ran a/1",
            "b ran b/1",
            "a ran a/2",
            "b ran b/2",
            "b ran b/a/1",
            "b ran b/a/2"
        ]
    );
    assert_eq!(ch.run_tasks(), 0, "nothing left");
}

#[test]
fn spawn_continuation_is_skipped_when_its_handler_was_removed() {
    let l = log();
    let mut p = Pipeline::new();
    p.handlers().add_last("a", Spawner("a", l.clone())).unwrap();
    let mut ch = EmbeddedChannel::new(p);
    ch.write_inbound(Bytes::from_static(b"1"));
    assert_eq!(texts(&mut ch), ["1"]);
    ch.pipeline_mut().handlers().remove("a").unwrap();
    assert_eq!(ch.run_tasks(), 1, "the task itself still runs");
    assert!(entries(&l).is_empty(), "its continuation does not");
    assert_eq!(ch.inbound_len(), 0);
    // a new handler of the same type under the same name is not the one
    // that started the task either
    ch.pipeline_mut()
        .handlers()
        .add_last("a", Spawner("a", l.clone()))
        .unwrap();
    ch.write_inbound(Bytes::from_static(b"2"));
    ch.pipeline_mut()
        .handlers()
        .replace("a", "a", Spawner("a", l.clone()))
        .unwrap();
    assert_eq!(ch.run_tasks(), 1);
    assert!(entries(&l).is_empty());
}

#[test]
fn a_handler_that_does_not_take_the_previous_out_is_refused_naming_both() {
    let mut p = Pipeline::new();
    p.handlers().add_last("text", ToText).unwrap();
    let err = match p.handlers().add_last("bytes-only", ToText) {
        Err(e) => e,
        Ok(_) => panic!("a Bytes handler after a String emitter was accepted"),
    };
    assert!(
        matches!(&err, PipelineError::TypeMismatch { direction: Direction::Inbound, from, to, .. }
            if from == "text" && to == "bytes-only"),
        "{err}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains("`text`") && msg.contains("`bytes-only`"),
        "{msg}"
    );
    assert_eq!(p.names(), ["text"]);
    // `Message` as In and Out passes anything: on both sides of any handler
    p.handlers()
        .add_first("any-first", Nop)
        .unwrap()
        .add_last("any", Nop)
        .unwrap()
        .add_last("strings", StringsIn)
        .unwrap()
        .add_last("any-last", Nop)
        .unwrap();
    assert_eq!(
        p.names(),
        ["any-first", "text", "any", "strings", "any-last"]
    );
}

#[test]
fn a_wrong_message_behind_an_any_emitter_becomes_an_unexpected_message_exception() {
    let mut p = Pipeline::new();
    p.handlers()
        .add_last("any", Nop)
        .unwrap()
        .add_last("strings", StringsIn)
        .unwrap();
    let mut ch = EmbeddedChannel::new(p);
    ch.write_inbound(Bytes::from_static(b"not a string"));
    let errs = ch.take_exceptions();
    assert!(
        matches!(errs.as_slice(), [PipelineError::UnexpectedMessage { handler, got }]
            if handler == "strings" && got == "Bytes"),
        "{errs:?}"
    );
    assert!(ch.is_closed(), "unhandled, it closes the channel");
}

#[test]
fn set_auto_read_from_a_handler_reaches_the_channel_at_once() {
    /// Switches auto-read off on "stop", on on "go".
    struct Toggle;
    impl Handler for Toggle {
        type In = Bytes;
        type Out = Bytes;
        fn read(&mut self, ctx: &mut Context<'_, Bytes>, msg: Bytes) {
            ctx.set_auto_read(&msg[..] != b"stop");
            ctx.fire_read(msg);
        }
    }
    let mut p = Pipeline::new();
    p.handlers().add_last("toggle", Toggle).unwrap();
    let mut ch = EmbeddedChannel::new(p);
    assert!(ch.auto_read());
    ch.write_inbound(Bytes::from_static(b"stop"));
    assert!(!ch.auto_read());
    assert!(ch.read_outbound().is_none(), "not an outbound operation");
    ch.write_inbound(Bytes::from_static(b"go"));
    assert!(ch.auto_read());
}

#[test]
fn set_auto_read_reaches_the_head_before_the_callers_queued_writes() {
    /// Logs what reaches it.
    struct LogHead(Log);
    impl weft_pipeline::Head for LogHead {
        fn write(&mut self, msg: Wire, _promise: Option<WritePromise>) {
            self.0
                .lock()
                .unwrap()
                .push(format!("write:{}", wire_text(&msg)));
        }
        fn flush(&mut self) {}
        fn close(&mut self) {}
        fn set_auto_read(&mut self, on: bool) {
            self.0.lock().unwrap().push(format!("auto_read:{on}"));
        }
        fn is_writable(&self) -> bool {
            true
        }
        fn spawn(&mut self, _task: weft_pipeline::Task) {}
    }
    struct Pause(Log);
    impl Handler for Pause {
        type In = Message;
        type Out = Nothing;
        fn read(&mut self, ctx: &mut Context<'_, Nothing>, msg: Message) {
            ctx.write(msg);
            ctx.set_auto_read(false);
            self.0.lock().unwrap().push("returned".into());
        }
    }
    let l = log();
    let mut p = Pipeline::new();
    p.set_head(Box::new(LogHead(l.clone())));
    p.handlers().add_last("pause", Pause(l.clone())).unwrap();
    p.fire_read(Bytes::from_static(b"x").into());
    assert_eq!(entries(&l), ["auto_read:false", "returned", "write:x"]);
}

/// Writes a greeting and stops reading as soon as it is added, before any
/// channel exists, and starts a task.
struct Greeter;

impl Handler for Greeter {
    type In = Message;
    type Out = Message;

    fn read(&mut self, ctx: &mut Context<'_>, msg: Message) {
        ctx.fire_read(msg);
    }

    fn handler_added(&mut self, ctx: &mut Context<'_>) {
        ctx.write_and_flush(Bytes::from_static(b"hello"));
        ctx.set_auto_read(false);
        ctx.spawn(async { 7u8 }, |_this: &mut Self, ctx, n| {
            ctx.write_and_flush(Bytes::from(vec![n]));
        });
    }
}

#[test]
fn what_handlers_did_before_the_channel_existed_reaches_the_channel_in_order() {
    let mut p = Pipeline::new();
    p.handlers().add_last("greeter", Greeter).unwrap();
    // The transport installs its head when the connection starts.
    let old = p.set_head(Box::new(weft_pipeline::Recorder::default()));
    drop(old);
    let mut ch = EmbeddedChannel::new(p);
    assert!(!ch.auto_read(), "auto-read off was handed over");
    assert_eq!(ch.read_outbound_bytes().unwrap(), &b"hello"[..]);
    assert_eq!(ch.run_tasks(), 1, "the task was handed over");
    assert_eq!(ch.read_outbound_bytes().unwrap(), &[7u8][..]);
}
