//! The pipeline's contract: typed chains, changes while events flow,
//! ordering, Netty's write semantics, what the tail and head do.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use weft_pipeline::codec::{ByteToMessageDecoder, FixedLengthFrameDecoder, LineBasedFrameDecoder};
use weft_pipeline::{
    Context, Direction, EmbeddedChannel, Handler, HeadOp, IdleState, IdleStateEvent,
    IdleStateHandler, Message, MessageTypes, Pipeline, PipelineError, TypeFlow, WritePromise,
};

type Log = Arc<Mutex<Vec<String>>>;

fn log() -> Log {
    Arc::new(Mutex::new(Vec::new()))
}

fn entries(log: &Log) -> Vec<String> {
    log.lock().unwrap().clone()
}

/// Logs every inbound read and outbound write it sees, and passes them on.
struct Spy(&'static str, Log);

impl Handler for Spy {
    fn handler_added(&mut self, _ctx: &mut Context<'_>) {
        self.1.lock().unwrap().push(format!("{}:added", self.0));
    }
    fn handler_removed(&mut self, _ctx: &mut Context<'_>) {
        self.1.lock().unwrap().push(format!("{}:removed", self.0));
    }
    fn read(&mut self, ctx: &mut Context<'_>, msg: Message) {
        let text = msg
            .to_bytes()
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        self.1
            .lock()
            .unwrap()
            .push(format!("{}:read:{text}", self.0));
        ctx.fire_read(msg);
    }
    fn write(&mut self, ctx: &mut Context<'_>, msg: Message, p: Option<WritePromise>) {
        let text = msg
            .to_bytes()
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        self.1
            .lock()
            .unwrap()
            .push(format!("{}:write:{text}", self.0));
        ctx.write_with_promise(msg, p);
    }
}

/// Emits `Bytes` inbound, takes anything.
struct BytesOut;
impl Handler for BytesOut {
    fn inbound_types(&self) -> TypeFlow {
        TypeFlow::transform(MessageTypes::ANY, MessageTypes::BYTES)
    }
}

/// Takes only `String` inbound.
struct StringsIn;
impl Handler for StringsIn {
    fn inbound_types(&self) -> TypeFlow {
        TypeFlow::sink(MessageTypes::of::<String>())
    }
}

/// Bytes -> String inbound.
struct ToString;
impl Handler for ToString {
    fn inbound_types(&self) -> TypeFlow {
        TypeFlow::transform(MessageTypes::BYTES, MessageTypes::of::<String>())
    }
}

struct Nop;
impl Handler for Nop {}

fn texts(ch: &mut EmbeddedChannel) -> Vec<String> {
    let mut out = Vec::new();
    while let Some(b) = ch.read_inbound_bytes() {
        out.push(String::from_utf8_lossy(&b).into_owned());
    }
    out
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
    p.add_last("bytes", BytesOut).unwrap();
    let err = p.add_last("strings", StringsIn).unwrap_err();
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
    p.add_last("nop", Nop).unwrap();
    assert!(p.add_last("strings", StringsIn).is_err());
    p.add_before("nop", "convert", ToString).unwrap();
    p.add_last("strings", StringsIn).unwrap();
    assert_eq!(p.names(), ["bytes", "convert", "nop", "strings"]);
}

#[test]
fn mismatch_at_change_time_is_refused() {
    let mut p = Pipeline::new();
    p.add_last("bytes", BytesOut)
        .unwrap()
        .add_last("convert", ToString)
        .unwrap()
        .add_last("strings", StringsIn)
        .unwrap();
    assert!(matches!(
        p.remove("convert"),
        Err(PipelineError::TypeMismatch { .. })
    ));
    assert!(matches!(
        p.replace("convert", "nop", Nop),
        Err(PipelineError::TypeMismatch { .. })
    ));
    assert!(matches!(
        p.add_after("bytes", "strings2", StringsIn),
        Err(PipelineError::TypeMismatch { .. })
    ));
    assert_eq!(p.names(), ["bytes", "convert", "strings"]);
    // replacing with a compatible handler works
    p.replace("convert", "convert2", ToString).unwrap();
    assert_eq!(p.names(), ["bytes", "convert2", "strings"]);
}

#[test]
fn outbound_mismatch_is_checked_tail_to_head() {
    struct WritesStrings;
    impl Handler for WritesStrings {
        fn outbound_types(&self) -> TypeFlow {
            TypeFlow::transform(MessageTypes::ANY, MessageTypes::of::<String>())
        }
    }
    struct EncodesBytes;
    impl Handler for EncodesBytes {
        fn outbound_types(&self) -> TypeFlow {
            TypeFlow::transform(MessageTypes::BYTES, MessageTypes::BYTES)
        }
    }
    let mut p = Pipeline::new();
    p.add_last("encoder", EncodesBytes).unwrap();
    let err = p.add_last("app", WritesStrings).unwrap_err();
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
        fn inbound_types(&self) -> TypeFlow {
            TypeFlow::sink(MessageTypes::BYTES)
        }
    }
    let mut p = Pipeline::new();
    p.add_last(
        "lines",
        ByteToMessageDecoder::new(LineBasedFrameDecoder::new(8)),
    )
    .unwrap();
    let err = p.add_last("app", BytesOnly).unwrap_err();
    assert!(
        err.to_string().contains("`lines` emits Bytes | Composite"),
        "{err}"
    );
}

#[test]
fn mismatch_from_inside_a_handler_returns_to_the_caller() {
    struct Installer;
    impl Handler for Installer {
        fn inbound_types(&self) -> TypeFlow {
            TypeFlow::transform(MessageTypes::ANY, MessageTypes::BYTES)
        }
        fn read(&mut self, ctx: &mut Context<'_>, msg: Message) {
            if let Err(e) = ctx.add_after("installer", "strings", StringsIn) {
                ctx.fire_exception(e);
            }
            ctx.fire_read(msg);
        }
    }
    let mut p = Pipeline::new();
    p.add_last("installer", Installer).unwrap();
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
    p.add_last("a", Nop).unwrap();
    assert!(matches!(p.add_last("a", Nop), Err(PipelineError::DuplicateName(n)) if n == "a"));
    assert!(matches!(
        p.add_first("a", Nop),
        Err(PipelineError::DuplicateName(_))
    ));
    assert!(matches!(p.add_before("x", "b", Nop), Err(PipelineError::UnknownName(n)) if n == "x"));
    assert!(matches!(
        p.add_after("x", "b", Nop),
        Err(PipelineError::UnknownName(_))
    ));
    assert!(matches!(p.remove("x"), Err(PipelineError::UnknownName(_))));
    assert!(matches!(
        p.replace("x", "b", Nop),
        Err(PipelineError::UnknownName(_))
    ));
    p.add_last("b", Nop).unwrap();
    assert!(matches!(
        p.replace("a", "b", Nop),
        Err(PipelineError::DuplicateName(_))
    ));
    // replacing under the same name is fine
    p.replace("a", "a", Nop).unwrap();
    assert_eq!(p.names(), ["a", "b"]);
}

#[test]
fn lifecycle_callbacks_run_in_order() {
    let l = log();
    let mut p = Pipeline::new();
    p.add_last("a", Spy("a", l.clone())).unwrap();
    p.replace("a", "b", Spy("b", l.clone())).unwrap();
    p.remove("b").unwrap();
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
        fn read(&mut self, ctx: &mut Context<'_>, msg: Message) {
            let b = msg.to_bytes().unwrap_or_default();
            for suffix in [b"1", b"2"] {
                let mut v = b.to_vec();
                v.extend_from_slice(suffix);
                ctx.fire_read(Bytes::from(v));
            }
        }
    }
    let l = log();
    let mut p = Pipeline::new();
    p.add_last("t1", Twice)
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
        fn read(&mut self, ctx: &mut Context<'_>, msg: Message) {
            ctx.fire_read(msg);
            self.0.lock().unwrap().push("before:returned".into());
        }
    }
    let l = log();
    let mut p = Pipeline::new();
    p.add_last("before", Before(l.clone()))
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
        fn read(&mut self, ctx: &mut Context<'_>, msg: Message) {
            ctx.write(Bytes::from_static(b"a"));
            ctx.write(msg);
            ctx.write(Bytes::from_static(b"c"));
            ctx.flush();
        }
    }
    let mut p = Pipeline::new();
    p.add_last("reply", Reply).unwrap();
    let mut ch = EmbeddedChannel::new(p);
    ch.write_inbound(Bytes::from_static(b"b"));
    let mut seen = Vec::new();
    while let Some(op) = ch.read_outbound() {
        seen.push(match op {
            HeadOp::Write(m, _) => String::from_utf8(m.to_bytes().unwrap().to_vec()).unwrap(),
            HeadOp::Flush => "flush".into(),
            other => format!("{other:?}"),
        });
    }
    assert_eq!(seen, ["a", "b", "c", "flush"]);
}

#[test]
fn ctx_write_skips_handlers_after_the_caller_but_pipeline_write_does_not() {
    /// Writes "r" from read: with ctx.write or from the tail.
    struct App(bool);
    impl Handler for App {
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
        p.add_last("before", Spy("before", l.clone()))
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
        fn read(&mut self, ctx: &mut Context<'_>, msg: Message) {
            if ctx.handler_names().contains(&"b") {
                ctx.remove("b").unwrap();
            }
            ctx.fire_read(msg);
        }
    }
    let l = log();
    let mut p = Pipeline::new();
    p.add_last("a", RemoveB)
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
        fn read(&mut self, ctx: &mut Context<'_>, msg: Message) {
            if !ctx.handler_names().contains(&"spy") {
                ctx.add_last("spy", Spy("spy", self.0.clone())).unwrap();
            }
            ctx.fire_read(msg);
        }
    }
    let l = log();
    let mut p = Pipeline::new();
    p.add_last("adder", AddSpy(l.clone())).unwrap();
    let mut ch = EmbeddedChannel::new(p);
    ch.write_inbound(Bytes::from_static(b"1"));
    assert_eq!(entries(&l), ["spy:added", "spy:read:1"]);
}

#[test]
fn protocol_switch_hands_buffered_bytes_to_the_new_decoder() {
    /// After the line "SWITCH", replaces the line decoder with 3-byte frames.
    struct Switcher;
    impl Handler for Switcher {
        fn read(&mut self, ctx: &mut Context<'_>, msg: Message) {
            if msg.to_bytes().as_deref() == Some(b"SWITCH") {
                let fixed = ByteToMessageDecoder::new(FixedLengthFrameDecoder::new(3).unwrap());
                ctx.replace("decoder", "fixed", fixed).unwrap();
            } else {
                ctx.fire_read(msg);
            }
        }
    }
    let mut p = Pipeline::new();
    p.add_last(
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
        fn read(&mut self, ctx: &mut Context<'_>, msg: Message) {
            ctx.replace("once", "spy-new", Nop).unwrap();
            ctx.fire_read(msg); // goes to the replacement, then on
        }
    }
    let mut p = Pipeline::new();
    p.add_last("once", Once).unwrap();
    let mut ch = EmbeddedChannel::new(p);
    ch.write_inbound(Bytes::from_static(b"1"));
    ch.write_inbound(Bytes::from_static(b"2"));
    assert_eq!(texts(&mut ch), ["1", "2"]);
    assert_eq!(ch.pipeline().names(), ["spy-new"]);
}

#[test]
fn unconsumed_message_at_the_tail_is_counted_not_lost_silently() {
    let mut p = Pipeline::new();
    p.add_last("nop", Nop).unwrap();
    p.fire_read(Bytes::from_static(b"abc").into());
    p.fire_read(Message::user(1u32));
    let s = p.stats();
    assert_eq!(s.unconsumed_reads, 2);
    assert_eq!(s.unconsumed_bytes, 3);
}

#[test]
fn unhandled_exception_closes_and_is_counted() {
    let mut p = Pipeline::new();
    p.add_last("nop", Nop).unwrap();
    p.fire_exception(PipelineError::decode("bad"));
    assert!(matches!(p.take_head_ops().pop_front(), Some(HeadOp::Close)));
    assert_eq!(p.stats().unhandled_exceptions, 1);
    let errs = p.take_unhandled_exceptions();
    assert_eq!(errs[0].to_string(), "decode error: bad");
}

#[test]
fn handled_exception_does_not_close() {
    struct Swallow;
    impl Handler for Swallow {
        fn exception(&mut self, _ctx: &mut Context<'_>, _err: PipelineError) {}
    }
    let mut p = Pipeline::new();
    p.add_last("swallow", Swallow).unwrap();
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
    assert!(p.take_head_ops().is_empty());
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
    let Some(HeadOp::Write(_, Some(p))) = ch.pipeline_mut().take_head_ops().pop_front() else {
        panic!("write with promise expected")
    };
    p.succeed();
    assert!(futures::executor::block_on(fut).is_ok());
}

#[test]
fn writability_and_auto_read_reach_handlers_and_head() {
    struct Backpressure;
    impl Handler for Backpressure {
        fn writability_changed(&mut self, ctx: &mut Context<'_>, writable: bool) {
            assert_eq!(ctx.is_writable(), writable);
            ctx.set_auto_read(writable);
            ctx.fire_writability_changed(writable);
        }
    }
    let mut p = Pipeline::new();
    p.add_last("bp", Backpressure).unwrap();
    let mut ch = EmbeddedChannel::new(p);
    ch.set_writable(false);
    assert!(matches!(
        ch.read_outbound(),
        Some(HeadOp::SetAutoRead(false))
    ));
    assert!(!ch.auto_read());
    ch.set_writable(true);
    assert!(ch.auto_read());
}

#[test]
fn close_travels_outbound_and_the_channel_goes_inactive_once() {
    struct CountInactive(Log);
    impl Handler for CountInactive {
        fn channel_inactive(&mut self, ctx: &mut Context<'_>) {
            self.0.lock().unwrap().push("inactive".into());
            ctx.fire_channel_inactive();
        }
    }
    let l = log();
    let mut p = Pipeline::new();
    p.add_last("c", CountInactive(l.clone())).unwrap();
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
    p.add_last(
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
    p.add_last(
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
    p.add_last(
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
    /// After the line "SWITCH", replaces the line decoder with 3-byte frames.
    struct Switcher;
    impl Handler for Switcher {
        fn read(&mut self, ctx: &mut Context<'_>, msg: Message) {
            if msg.to_bytes().as_deref() == Some(b"SWITCH") {
                let fixed = ByteToMessageDecoder::new(FixedLengthFrameDecoder::new(3).unwrap());
                ctx.replace("decoder", "fixed", fixed).unwrap();
            } else {
                ctx.fire_read(msg);
            }
        }
    }
    for single in [false, true] {
        let mut lines = ByteToMessageDecoder::new(LineBasedFrameDecoder::new(64));
        lines.single_decode(single);
        let mut p = Pipeline::new();
        p.add_last("decoder", lines)
            .unwrap()
            .add_last("switcher", Switcher)
            .unwrap();
        let mut ch = EmbeddedChannel::new(p);
        ch.write_inbound(Bytes::from_static(b"a\nSWITCH\nbc\nde\nf"));
        if single {
            // everything after "SWITCH\n" reaches the new decoder as bytes
            assert_eq!(texts(&mut ch), ["a", "bc\n", "de\n"]);
        } else {
            // the line decoder had already cut "bc" and "de" before the switch;
            // its undecoded "f" is handed over on removal, then the queued
            // frames follow without their newlines (the documented pitfall)
            assert_eq!(texts(&mut ch), ["a", "fbc"]);
        }
    }
}
