//! [`Value`]: any `Send` value, kept inline when it is small.
//!
//! A decoded frame (a RESP request, a line, a small struct of `Bytes`)
//! travels between named handlers inside a [`Message`](crate::Message).
//! Boxing it would cost an allocation per message, the cost the pipeline
//! exists to avoid; so a value of at most [`INLINE_BYTES`] bytes whose
//! alignment is at most a word's is stored in place, and only a larger one
//! is boxed. The value's type travels with it, so a typed handler receives
//! it back without a downcast in user code.
//!
//! This file is the pipeline's one piece of `unsafe`: a small-box with a
//! static vtable per type.

use std::any::{type_name, Any, TypeId};
use std::fmt;
use std::mem::{align_of, size_of, ManuallyDrop, MaybeUninit};
use std::ptr;

/// Words of inline storage in a [`Value`].
const INLINE_WORDS: usize = 10;

/// The largest value a [`Value`] (and so a [`Message`](crate::Message))
/// keeps without a heap allocation: 80 bytes on 64-bit targets, as large
/// as a [`CompositeBuf`](weft_buf::CompositeBuf), so it costs the message
/// no size. Types with an alignment above a word's are always boxed.
///
/// # Examples
///
/// ```
/// assert!(weft_pipeline::Value::fits_inline::<[bytes::Bytes; 2]>());
/// assert!(!weft_pipeline::Value::fits_inline::<[u8; 200]>());
/// ```
pub const INLINE_BYTES: usize = INLINE_WORDS * size_of::<usize>();

struct VTable {
    type_id: fn() -> TypeId,
    type_name: fn() -> &'static str,
    /// Drops the value in `data` (inline or boxed, per `inline`).
    drop: unsafe fn(*mut u8),
    inline: bool,
}

struct Vt<T>(std::marker::PhantomData<T>);

impl<T: Any + Send> Vt<T> {
    const INLINE: bool = size_of::<T>() <= INLINE_BYTES && align_of::<T>() <= align_of::<usize>();
    const VT: VTable = VTable {
        type_id: TypeId::of::<T>,
        type_name: type_name::<T>,
        drop: if Self::INLINE {
            drop_inline::<T>
        } else {
            drop_boxed::<T>
        },
        inline: Self::INLINE,
    };
}

/// # Safety
/// `p` points at a valid, initialised `T` that is not used again.
unsafe fn drop_inline<T>(p: *mut u8) {
    // SAFETY: the caller guarantees a valid `T` at `p`, dropped once.
    unsafe { ptr::drop_in_place(p.cast::<T>()) }
}

/// # Safety
/// `p` points at a `*mut T` made by `Box::into_raw`, not used again.
unsafe fn drop_boxed<T>(p: *mut u8) {
    // SAFETY: the caller guarantees `p` holds a pointer from
    // `Box::into_raw`, read once and turned back into its box once.
    unsafe { drop(Box::from_raw(p.cast::<*mut T>().read())) }
}

/// Any `Send + 'static` value, inline when small (see [`INLINE_BYTES`]).
///
/// What [`Message::User`](crate::Message::User) and user events carry.
/// Cheap to move (a copy of its 88 bytes); no allocation for small values.
///
/// # Examples
///
/// ```
/// use weft_pipeline::Value;
///
/// let v = Value::new((1u32, "two"));
/// assert!(v.is::<(u32, &str)>());
/// assert!(v.is_inline());
/// let v = v.downcast::<String>().unwrap_err(); // not a String: given back
/// assert_eq!(v.downcast::<(u32, &str)>().ok(), Some((1, "two")));
/// ```
pub struct Value {
    vt: &'static VTable,
    data: MaybeUninit<[usize; INLINE_WORDS]>,
}

// SAFETY: a `Value` is only ever made from a `T: Send` (`Value::new`), and
// it hands the `T` out only by value or through `&mut self`/`&self` of the
// `Value` itself, so moving it to another thread moves a `Send` value.
unsafe impl Send for Value {}

impl Value {
    /// True if a `T` is stored without a heap allocation.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(weft_pipeline::Value::fits_inline::<u64>());
    /// ```
    pub const fn fits_inline<T: Any + Send>() -> bool {
        Vt::<T>::INLINE
    }

    /// Wraps `value`: in place if it fits, boxed otherwise.
    ///
    /// # Examples
    ///
    /// ```
    /// let v = weft_pipeline::Value::new(vec![1u8, 2, 3]);
    /// assert_eq!(v.downcast_ref::<Vec<u8>>().map(Vec::len), Some(3));
    /// ```
    pub fn new<T: Any + Send>(value: T) -> Value {
        let mut data = MaybeUninit::<[usize; INLINE_WORDS]>::uninit();
        let p = data.as_mut_ptr().cast::<u8>();
        if Vt::<T>::INLINE {
            // SAFETY: `INLINE` checked that a `T` fits the buffer in size
            // and alignment; the buffer is fresh, so nothing is overwritten.
            unsafe { p.cast::<T>().write(value) }
        } else {
            let boxed = Box::into_raw(Box::new(value));
            // SAFETY: a pointer fits and is aligned in a buffer of words.
            unsafe { p.cast::<*mut T>().write(boxed) }
        }
        Value {
            vt: &Vt::<T>::VT,
            data,
        }
    }

    /// The [`TypeId`] of the value inside.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::any::TypeId;
    /// assert_eq!(weft_pipeline::Value::new(1u8).type_id(), TypeId::of::<u8>());
    /// ```
    pub fn type_id(&self) -> TypeId {
        (self.vt.type_id)()
    }

    /// The name of the value's type, as `std::any::type_name` gives it.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(weft_pipeline::Value::new(1u8).type_name(), "u8");
    /// ```
    pub fn type_name(&self) -> &'static str {
        (self.vt.type_name)()
    }

    /// True if the value is a `T`.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!weft_pipeline::Value::new(1u8).is::<u16>());
    /// ```
    pub fn is<T: Any>(&self) -> bool {
        self.type_id() == TypeId::of::<T>()
    }

    /// True if the value is stored without a heap allocation.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!weft_pipeline::Value::new([0u8; 256]).is_inline());
    /// ```
    pub fn is_inline(&self) -> bool {
        self.vt.inline
    }

    /// Pointer to the `T` inside; the caller has checked `is::<T>()`.
    fn ptr<T: Any>(&self) -> *const T {
        let p = self.data.as_ptr().cast::<u8>();
        if self.vt.inline {
            p.cast::<T>()
        } else {
            // SAFETY: a boxed value's buffer starts with its box pointer,
            // written in `new`.
            unsafe { p.cast::<*const T>().read() }
        }
    }

    /// The value, if it is a `T`.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(weft_pipeline::Value::new(5u8).downcast_ref::<u8>(), Some(&5));
    /// ```
    pub fn downcast_ref<T: Any>(&self) -> Option<&T> {
        // SAFETY: the type id matched, so `ptr` points at a valid `T` that
        // lives as long as `self`.
        self.is::<T>().then(|| unsafe { &*self.ptr::<T>() })
    }

    /// The value, mutably, if it is a `T`.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut v = weft_pipeline::Value::new(5u8);
    /// *v.downcast_mut::<u8>().unwrap() += 1;
    /// assert_eq!(v.downcast::<u8>().ok(), Some(6));
    /// ```
    pub fn downcast_mut<T: Any>(&mut self) -> Option<&mut T> {
        // SAFETY: the type id matched, so `ptr` points at a valid `T`,
        // borrowed mutably through `&mut self`.
        self.is::<T>()
            .then(|| unsafe { &mut *self.ptr::<T>().cast_mut() })
    }

    /// Takes the value out if it is a `T`; otherwise gives `self` back.
    ///
    /// # Errors
    ///
    /// `self`, unchanged, when the value is not a `T`.
    ///
    /// # Examples
    ///
    /// See the type-level example.
    pub fn downcast<T: Any>(self) -> Result<T, Value> {
        if !self.is::<T>() {
            return Err(self);
        }
        let this = ManuallyDrop::new(self);
        let p = this.ptr::<T>();
        if this.vt.inline {
            // SAFETY: the type id matched; the `T` is read out once and
            // `this` is never dropped (ManuallyDrop), so it is not dropped twice.
            Ok(unsafe { p.read() })
        } else {
            // SAFETY: as above; the box made in `new` is taken back once.
            Ok(*unsafe { Box::from_raw(p.cast_mut()) })
        }
    }
}

impl Drop for Value {
    fn drop(&mut self) {
        // SAFETY: `data` holds the value written by `new` (inline or its
        // box pointer, as `vt.drop` expects); `downcast` never lets a
        // `Value` whose contents it took reach this drop.
        unsafe { (self.vt.drop)(self.data.as_mut_ptr().cast::<u8>()) }
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Value<{}>", self.type_name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    struct Counted(Arc<AtomicUsize>);
    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[test]
    fn drops_exactly_once_inline_and_boxed() {
        let n = Arc::new(AtomicUsize::new(0));
        drop(Value::new(Counted(n.clone())));
        drop(Value::new((Counted(n.clone()), [0u8; 300])));
        assert_eq!(n.load(Ordering::Relaxed), 2);
        let v = Value::new(Counted(n.clone())).downcast::<Counted>().ok();
        assert_eq!(n.load(Ordering::Relaxed), 2);
        drop(v);
        assert_eq!(n.load(Ordering::Relaxed), 3);
        let big = Value::new((Counted(n.clone()), [0u8; 300]));
        assert!(!big.is_inline());
        let back = big.downcast::<(Counted, [u8; 300])>().ok();
        assert_eq!(n.load(Ordering::Relaxed), 3);
        drop(back);
        assert_eq!(n.load(Ordering::Relaxed), 4);
    }

    #[test]
    fn a_failed_downcast_keeps_the_value() {
        let v = Value::new(String::from("kept"));
        let v = v.downcast::<u8>().unwrap_err();
        assert_eq!(v.downcast_ref::<String>().map(String::as_str), Some("kept"));
    }

    #[test]
    fn over_aligned_values_are_boxed() {
        #[repr(align(64))]
        struct Wide(#[allow(dead_code)] u8);
        assert!(!Value::fits_inline::<Wide>());
        assert!(Value::new(Wide(1)).downcast::<Wide>().is_ok());
    }
}
