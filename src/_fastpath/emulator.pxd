# cython: language_level=3
"""The fast-path emulator's C layout, shared with the display differ (display.pyx reads
``ds`` and ``rows`` directly). The twin: ``pymosh.terminal.emulator`` + ``framebuffer`` +
``parser``; field and method names follow it (``ds`` and ``DrawState`` are Mosh's names).
"""

cimport cython
from libc.stdint cimport uint8_t, uint32_t

from _fastpath.cells cimport Cell, Row

cdef enum:
    MAX_SIZE = 1024        # width/height clamp (the twin's MAX_SIZE)
    TITLE_MAX = 256        # OSC titles end at buffer position 256
    CONTENTS_MAX = 32      # a cell stops accepting combining marks at 32 bytes
    OSC_MAX = 1398121      # pymosh.terminal.clipboard.OSC_MAX (Mosh: 16384)
    OSC_KEEP = 4096        # a buffer grown past this many code points is freed at OSC end
    PARAM_CHARS_MAX = 100  # parameter string cap
    INTERMEDIATES_MAX = 8
    HISTORY_LIMIT_MAX = 1000000  # the twin's framebuffer.HISTORY_LIMIT_MAX

# parser states (the twin's parser constants)
cdef enum:
    GROUND = 0
    ESCAPE = 1
    ESCAPE_INTERMEDIATE = 2
    CSI_ENTRY = 3
    CSI_PARAM = 4
    CSI_INTERMEDIATE = 5
    CSI_IGNORE = 6
    OSC_STRING = 7
    STRING_IGNORE = 8

ctypedef struct SavedCursor:     # the twin's framebuffer.SavedCursor
    int col
    int row
    uint32_t fg
    uint32_t bg
    uint32_t attrs
    int auto_wrap
    int origin

ctypedef struct DrawState:       # the twin's Framebuffer fields
    int width
    int height
    int cursor_row
    int cursor_col
    int combining_row
    int combining_col
    int top
    int bottom
    uint32_t fg
    uint32_t bg
    uint32_t attrs
    int next_print_will_wrap
    int origin_mode
    int auto_wrap_mode
    int insert_mode
    int cursor_visible
    int reverse_video
    int bracketed_paste
    int mouse_reporting_mode
    int mouse_encoding_mode
    int mouse_focus_event
    int mouse_alternate_scroll
    int application_cursor_keys
    int application_keypad
    int default_tabs
    SavedCursor saved            # DECSC
    SavedCursor alt_cursor       # ?1049

ctypedef struct OscBuf:          # the OSC string, shared by copies until one writes
    Py_ssize_t refcnt
    Py_ssize_t cap
    uint32_t *data


@cython.final
cdef class Emulator:
    cdef DrawState ds
    cdef Row **rows
    cdef Row **alt_rows          # the main screen while the alternate one is shown
    cdef uint8_t *tabs
    # parser
    cdef int state
    cdef uint8_t utf8_buf[8]
    cdef int utf8_len
    cdef char params[PARAM_CHARS_MAX + 4]
    cdef int params_len
    cdef char collected[INTERMEDIATES_MAX]
    cdef int collected_len
    cdef OscBuf *osc
    cdef int osc_len
    cdef int input_state
    cdef int param_values[PARAM_CHARS_MAX + 4]
    cdef int param_count
    # Python-level rarely changing state
    cdef object title
    cdef object icon_name
    cdef object clipboard
    cdef object selection_writes  # the selections property: a dict, replaced (never changed in place) on each write
    cdef bint title_initialized
    cdef Py_ssize_t bell_count
    cdef bytearray replies
    # scrollback capture: rows encoded compactly (emulator.pyx: row_encode) one after the
    # other in one arena, pending from history_head to history_tail (rendered in take_history)
    cdef char *history
    cdef Py_ssize_t history_cap
    cdef Py_ssize_t history_head
    cdef Py_ssize_t history_tail
    cdef int history_len
    cdef int history_limit
    cdef Py_ssize_t history_dropped
    cdef bint history_cleared

    cdef void _setup(self, int w, int h)
    cdef void _free_screen(self, Row **rows, int h) noexcept
    cdef bint _equal(self, Emulator o)
    cdef int _index(self, object v, int n) except -1
    cdef void history_pop(self) noexcept
    cdef void history_free(self) noexcept
    cdef void history_room(self, Py_ssize_t need) noexcept
    cdef void history_keep(self, const Row *r) noexcept
    cdef void clear_history(self) noexcept
    cdef inline Row *mutable_row(self, int y) noexcept
    cdef inline Row *writable_row(self, int y) noexcept
    cdef inline void record_text(self, Row *r, int col, int width, int last, const Cell *t,
                                 const char *p, Py_ssize_t m, bint word) noexcept
    cdef void reset_row(self, int y) noexcept
    cdef void erase_cells(self, int y, int start, int end) noexcept
    cdef void insert_lines(self, int y, int count) noexcept
    cdef void delete_lines(self, int y, int count) noexcept
    cdef inline void scroll(self, int n) noexcept
    cdef void set_wrap(self, int y, bint wrap) noexcept
    cdef void insert_cells(self, int y, int col, int n) noexcept
    cdef void delete_cells(self, int y, int col, int n) noexcept
    cdef inline void snap_cursor(self) noexcept
    cdef inline void move_row(self, long n, bint relative) noexcept
    cdef inline void move_col(self, long n, bint relative) noexcept
    cdef inline void advance(self, int n) noexcept
    cdef void move_rows_autoscroll(self, int n) noexcept
    cdef int next_tab(self, long count) noexcept
    cdef int prev_tab(self, long count) noexcept
    cdef void tab_to(self, int col, int if_none) noexcept
    cdef void reset(self) noexcept
    cdef void soft_reset(self) noexcept
    cdef Row **resized_rows(self, Row **rows, int oldw, int oldh, int w, int h) noexcept
    cdef void _resize(self, int w, int h)
    cdef void fill_blank(self, uint32_t bg) noexcept
    cdef void enter_alternate(self, bint clear) noexcept
    cdef void leave_alternate(self) noexcept
    cdef void save_cursor(self, SavedCursor *slot) noexcept
    cdef void restore_cursor(self, SavedCursor *slot) noexcept
    cdef void print_ascii(self, const uint8_t *p, Py_ssize_t n) noexcept
    cdef void print_char(self, uint32_t c, int width) noexcept
    cdef void print_combining(self, uint32_t c) noexcept
    cdef inline void print_code_point(self, uint32_t c) noexcept
    cdef void execute(self, uint32_t c) noexcept
    cdef void esc_dispatch(self, uint32_t c) noexcept
    cdef void osc_dispatch(self) noexcept
    cdef void parse_params(self) noexcept
    cdef inline int arg(self, int i, int default) noexcept
    cdef void csi_dispatch(self, uint32_t c) noexcept
    cdef void csi_dispatch_plain(self, uint32_t c) noexcept
    cdef void csi_ed(self) noexcept
    cdef void csi_el(self) noexcept
    cdef void csi_tbc(self) noexcept
    cdef void csi_sm(self, bint value) noexcept
    cdef void csi_dsr(self) noexcept
    cdef void csi_decstbm(self) noexcept
    cdef void csi_decset(self, bint value) noexcept
    cdef void csi_sgr(self) noexcept
    cdef inline void enter(self, int state) noexcept
    cdef inline void collect(self, uint32_t c) noexcept
    cdef inline void param(self, uint32_t c) noexcept
    cdef void osc_put(self, uint32_t c) noexcept
    cdef void step(self, uint32_t c) noexcept
    cdef inline void emit(self, uint32_t v) noexcept
    cdef int utf8_try(self, uint32_t *value) noexcept
    cdef void utf8_byte(self, uint8_t byte) noexcept
    cdef void _feed(self, const uint8_t *p, Py_ssize_t n) noexcept
