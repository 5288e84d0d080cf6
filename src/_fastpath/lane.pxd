# C types for pymosh/frontend/lane.py when Cython compiles it into _fastpath.lane (an
# augmenting .pxd: the .py stays plain Python, its twin). The lane's numbers live in one C
# struct: an idle server's wake-up reads them with cold caches, where generic attribute access
# (type lookup, member descriptors, boxed floats) cost more than the work itself.

cdef class IdleLane:
    cdef public object transport
    cdef public bint armed
    cdef public double deadline
    cdef public long long sends
    cdef public object state_at
    cdef public double held, detach_after, limit, now
    # Connection
    cdef public object session, addr
    cdef public long long mtu
    cdef public unsigned long long next_seq, expected_seq
    cdef public object saved_timestamp
    cdef public double saved_at
    cdef public bint rtt_hit
    cdef public double srtt, rttvar, last_heard
    cdef public long long datagrams_sent, bytes_sent, datagrams_received, bytes_received
    cdef public object roundtrip_success
    # TransportSender
    cdef public list sent_ts, sent_nums
    cdef public object ack_num, peer_heard, last_ack_sent
    cdef public long long instructions_sent, retransmits
    cdef public object last_new_num
    cdef public double next_ack_time
    cdef public object chaff, next_id, last_key
    # the receiver
    cdef public list recv_ts, recv_nums
    cdef public object current_id

    cdef bytes _tick(self, double now)
    cdef void _reschedule(self) noexcept


cdef long _timestamp16(double now) noexcept
