//go:build ignore

// flow.c sees every TCP connection of the machine, in every network
// namespace, from one tracepoint: inet_sock_set_state.
//
//   CLOSE -> SYN_SENT      connect(), in the caller's context: the owner is recorded
//   CLOSE -> LISTEN        listen(), in the caller's context: the owner is recorded
//   SYN_SENT -> ESTABLISHED   the client side is open   (softirq: no owner context)
//   SYN_RECV -> ESTABLISHED   the server side is open   (softirq; the owner was
//                             cloned from the listener with the socket)
//   * -> CLOSE             the connection ended (or the connect failed)
//
// Two optional cgroup_skb programs, attached to a cgroup v2 directory, copy
// the first payload bytes each tracked socket sends and receives (once per
// direction, for the first few connections of each flow) so that user space
// can tell TLS from plaintext HTTP, gRPC, Redis, Postgres … . Those bytes
// are classified in memory and never kept.
//
// The owner (pid, comm, cgroup) is kept in socket storage, because the
// established and close transitions usually run in softirq context, where
// the current task is whoever the interrupt happened to stop. Storage maps
// flagged BPF_F_CLONE are copied to the sockets a listener accepts.
//
// The kernel does not run a tracing program on a CPU where it is already
// running: a state change in a softirq that interrupts the tracker in a
// task, or in a task that preempts it (7.x kernels run it preemptible), is
// skipped, and counted as a "recursion miss". So user space attaches a
// spare copy of the tracker after it. The tracker marks its CPU while it
// runs; the spare does the work only when the CPU is marked, that is when
// the kernel skipped the tracker for this change. Each socket remembers
// the last state it was handled for, so that a change is never handled
// twice, whatever the scheduler interleaves. A change is lost only when
// the kernel skips both (the spare is running too, in a third task), and
// user space counts those: the tracker's skips the spare did not make up
// for. (Holding off interrupts in the tracker, where kernels allow it,
// does not help: the interrupts held come the moment they are let in,
// while the tracker is still running.)
//
// Events go to user space through a ring buffer. When it is full the event
// is counted in a per-CPU drop counter, which user space reports.
//
// Busy flows would cost several events per connection, and reading them
// costs the machine more than anything the kernel does here. So only the
// first PEEK_SAMPLES connections of each flow are reported one by one
// (their open, first bytes and close); every later connection is only
// counted, in place, in the flow's entry of the bounded "flows" map, which
// user space reads every second (removing flows idle for a minute). When
// that map is full, connections of new flows are reported one by one
// again: slower, never lost.

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>

#define AF_INET 2
#define AF_INET6 10
#define TASK_COMM_LEN 16
#define EEXIST 17 // errno: the key is in the map already

char LICENSE[] SEC("license") = "Dual MIT/GPL";

// event_type says which transition an event reports.
enum event_type {
	EVENT_LISTEN = 1,
	EVENT_CONNECT = 2, // the local end dialled and the connection is open
	EVENT_ACCEPT = 3,  // the local end accepted and the connection is open
	EVENT_CLOSE = 4,   // an open connection ended; bytes are final
	EVENT_CONNECT_FAILED = 5, // a connect() never reached ESTABLISHED
	EVENT_PAYLOAD = 6, // the first payload bytes of an open connection in one direction
};

// direction says which way an EVENT_PAYLOAD's bytes went.
enum direction {
	DIR_EGRESS = 1,  // sent by the local end
	DIR_INGRESS = 2, // received by the local end
};

#define PAYLOAD_MAX 32

// event_flags qualify an event.
enum event_flags {
	FLAG_OWNER_KNOWN = 1, // pid, comm and cgroup_id were recorded in process context
	FLAG_CLIENT = 2,      // the local end called connect()
	FLAG_SERVER = 4,      // the local end was accepted from a listener
	FLAG_BYTES = 8,       // bytes_sent and bytes_received are set
	FLAG_PEEKED_EGRESS = 16,  // owner only: the first bytes sent were reported
	FLAG_PEEKED_INGRESS = 32, // owner only: the first bytes received were reported
	FLAG_COUNTED = 64,        // owner only: the connection is counted in the flows map, not reported
};

// drop_reason indexes the per-CPU drop counters.
enum drop_reason {
	DROP_RINGBUF_FULL = 0, // an event was lost: the ring buffer was full
	DROP_NO_STORAGE = 1,   // socket storage could not be allocated: owner and close lost
	DROP_FLOWS_FULL = 2,   // not a loss: the flows map was full, so a connection was reported one by one
	DROP_RESCUED = 3,      // not a loss: the tracker was skipped for a change, and its spare copy handled it
	DROP_REASONS = 4,
};

// owner is what socket storage keeps for each TCP socket we care about.
struct owner {
	__u64 cgroup_id;
	__u32 pid;
	__u16 local_port; // kept: a closing socket has already given its port back
	__u8 flags;       // enum event_flags
	__u8 handled;     // the TCP state of the last change handled for this socket
	char comm[TASK_COMM_LEN];
};

// event is one record in the ring buffer. Addresses are always 16 bytes:
// IPv4 is written IPv4-mapped (::ffff:a.b.c.d), as the kernel does for
// IPv4 peers of dual-stack sockets.
struct event {
	__u64 timestamp_ns; // CLOCK_BOOTTIME
	__u64 cookie;       // socket cookie: unique per socket while the machine is up; 0 for adopted listeners
	__u64 cgroup_id;    // cgroup v2 id of the owner
	__u64 bytes_sent;   // acknowledged by the peer, EVENT_CLOSE only
	__u64 bytes_received;
	__u32 netns;        // network namespace inode
	__u32 pid;          // owner's thread group id
	__u8 local_addr[16];
	__u8 remote_addr[16];
	__u16 local_port;
	__u16 remote_port;
	__u8 family;        // the socket's family: AF_INET or AF_INET6
	__u8 type;          // enum event_type
	__u8 flags;         // enum event_flags
	__u8 state;         // EVENT_CLOSE, EVENT_CONNECT_FAILED: the TCP state closed from
	char comm[TASK_COMM_LEN];
	__u16 payload_len;  // EVENT_PAYLOAD: how many bytes of payload are valid
	__u8 direction;     // EVENT_PAYLOAD: enum direction
	__u8 pad[5];
	__u8 payload[PAYLOAD_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC | BPF_F_CLONE);
	__type(key, int);
	__type(value, struct owner);
} owners SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 23); // 8 MiB; user space may resize it before loading
} events SEC(".maps");

// Connections of one flow usually speak alike: only the first PEEK_SAMPLES
// connections of each flow are reported (and have their first bytes
// peeked at); the rest are counted in the flows map.
#define PEEK_SAMPLES 4

// aggregate turns the counting of busy flows in the flows map on; user
// space clears it before loading where a kernel's verifier refuses that
// part, and every connection is then reported one by one. The verifier
// knows the value of a constant and skips the code it turns off.
volatile const bool aggregate = true;

// flow_key is one side's view of the connections between two addresses on
// one server port, as user space aggregates them (flows.Key).
struct flow_key {
	__u64 cgroup_id; // the owner's, 0 when unknown
	__u32 netns;
	__u16 port; // the server's
	__u8 role;  // FLAG_CLIENT or FLAG_SERVER
	__u8 pad;
	__u8 local_addr[16];
	__u8 remote_addr[16];
};

// flow_counts counts the connections of a flow that were not reported one
// by one. Counters are added to atomically: every CPU updates them.
struct flow_counts {
	__u64 opened;
	__u64 closed;
	__u64 failed; // connect() calls that never opened
	__u64 bytes_sent;
	__u64 bytes_received;
	__u64 first_ns; // CLOCK_BOOTTIME of the flow's first connection
	__u64 last_ns;  // of its latest counted transition
	__u32 samples;  // connections reported one by one, at most PEEK_SAMPLES
	__u32 pid;      // the owner of the flow's first connection
	char comm[TASK_COMM_LEN];
};

// Bounded: a full map makes new flows' connections reported one by one.
// User space may resize it before loading, and removes flows idle for a
// while; entries are allocated as needed, so that one removed while a
// program still adds to it is never handed to another flow.
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 65536);
	__type(key, struct flow_key);
	__type(value, struct flow_counts);
} flows SEC(".maps");

// listener_key names a listening socket: its namespace, port and address
// (all zeros for ::, ::ffff:0.0.0.0 for 0.0.0.0).
struct listener_key {
	__u32 netns;
	__u16 port;
	__u16 pad;
	__u8 addr[16];
};

// adopted are the owners of sockets that were listening before the
// program was attached, found by adopt_listeners: the connections they
// accept take their owner from here, for want of socket storage to clone.
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct listener_key);
	__type(value, struct owner);
} adopted SEC(".maps");

// tracking is 1 on a CPU while the tracker runs there.
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} tracking SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, DROP_REASONS);
	__type(key, __u32);
	__type(value, __u64);
} drops SEC(".maps");

// Force the types user space decodes into the object's BTF.
const struct event *unused_event __attribute__((unused));
const enum event_type *unused_event_type __attribute__((unused));
const enum event_flags *unused_event_flags __attribute__((unused));
const enum drop_reason *unused_drop_reason __attribute__((unused));
const enum direction *unused_direction __attribute__((unused));
const struct flow_key *unused_flow_key __attribute__((unused));
const struct flow_counts *unused_flow_counts __attribute__((unused));

// Waking the reader for every event would cost a context switch each: the
// reader polls a few times a second instead, and is woken early only when
// this much is waiting.
#define WAKEUP_BYTES (1024 * 1024)

static __always_inline long wakeup(void)
{
	return bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= WAKEUP_BYTES ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
}

static __always_inline void count_drop(__u32 reason)
{
	__u64 *n = bpf_map_lookup_elem(&drops, &reason);
	if (n)
		*n += 1; // per-CPU: no other writer
}

static __always_inline void v4_mapped(__u8 *dst, __be32 addr)
{
	__builtin_memset(dst, 0, 10);
	dst[10] = 0xff;
	dst[11] = 0xff;
	__builtin_memcpy(dst + 12, &addr, 4);
}

// local_addr and remote_addr copy a socket's addresses, IPv4 written
// IPv4-mapped.
static __always_inline void local_addr(__u8 *dst, struct sock *sk, __u8 family)
{
	if (family == AF_INET)
		v4_mapped(dst, sk->__sk_common.skc_rcv_saddr);
	else
		__builtin_memcpy(dst, sk->__sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8, 16);
}

static __always_inline void remote_addr(__u8 *dst, struct sock *sk, __u8 family)
{
	if (family == AF_INET)
		v4_mapped(dst, sk->__sk_common.skc_daddr);
	else
		__builtin_memcpy(dst, sk->__sk_common.skc_v6_daddr.in6_u.u6_addr8, 16);
}

// record_owner runs in the context of the task calling connect() or listen().
static __always_inline struct owner *record_owner(struct sock *sk)
{
	struct owner *o = bpf_sk_storage_get(&owners, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!o) {
		count_drop(DROP_NO_STORAGE);
		return 0;
	}
	o->pid = bpf_get_current_pid_tgid() >> 32;
	o->cgroup_id = bpf_get_current_cgroup_id();
	bpf_get_current_comm(o->comm, sizeof(o->comm));
	o->flags = FLAG_OWNER_KNOWN;
	return o;
}

// EVENT_SIZE_NO_PAYLOAD is the size of an event without its payload: only
// EVENT_PAYLOAD records carry it, which keeps the others 112 bytes long.
#define EVENT_SIZE_NO_PAYLOAD (sizeof(struct event) - PAYLOAD_MAX)

// emit reports a transition of sk. cookie is the socket's cookie, or 0
// where the verifier does not trust sk enough to ask for it (the
// iterator's listeners: user space needs no cookie for those).
static __always_inline int emit(struct sock *sk, __u64 cookie, __u8 family, __u8 type, __u8 state, struct owner *o, __u8 flags)
{
	struct event *e = bpf_ringbuf_reserve(&events, EVENT_SIZE_NO_PAYLOAD, 0);
	if (!e) {
		count_drop(DROP_RINGBUF_FULL);
		return 0;
	}
	e->timestamp_ns = bpf_ktime_get_boot_ns();
	e->cookie = cookie;
	e->netns = sk->__sk_common.skc_net.net->ns.inum;
	e->family = family;
	e->type = type;
	e->state = state;
	e->local_port = sk->__sk_common.skc_num;
	e->remote_port = bpf_ntohs(sk->__sk_common.skc_dport);
	local_addr(e->local_addr, sk, family);
	remote_addr(e->remote_addr, sk, family);
	e->pid = 0;
	e->cgroup_id = 0;
	__builtin_memset(e->comm, 0, sizeof(e->comm));
	if (o) {
		e->pid = o->pid;
		e->cgroup_id = o->cgroup_id;
		__builtin_memcpy(e->comm, o->comm, sizeof(e->comm));
		flags |= o->flags;
		if (e->local_port == 0)
			e->local_port = o->local_port; // released before the close transition
	}
	e->bytes_sent = 0;
	e->bytes_received = 0;
	if (type == EVENT_CLOSE) {
		struct tcp_sock *tp = bpf_skc_to_tcp_sock(sk);
		if (tp) {
			// Payload only: bytes_sent counts retransmissions again,
			// and bytes_received counts a received FIN as one byte
			// (tcp_fin() marks the socket SOCK_DONE).
			e->bytes_sent = tp->bytes_sent - tp->bytes_retrans;
			e->bytes_received = tp->bytes_received;
			if ((sk->__sk_common.skc_flags & (1UL << SOCK_DONE)) && e->bytes_received > 0)
				e->bytes_received -= 1;
			flags |= FLAG_BYTES;
		}
	}
	e->flags = flags & (FLAG_OWNER_KNOWN | FLAG_CLIENT | FLAG_SERVER | FLAG_BYTES);
	e->payload_len = 0;
	e->direction = 0;
	bpf_ringbuf_submit(e, wakeup());
	return 0;
}

static __always_inline void make_key(struct flow_key *k, struct sock *sk, __u8 family, __u64 cgroup_id, __u8 role, __u16 local_port)
{
	k->cgroup_id = cgroup_id;
	k->netns = sk->__sk_common.skc_net.net->ns.inum;
	k->role = role;
	k->port = role == FLAG_CLIENT ? bpf_ntohs(sk->__sk_common.skc_dport) : local_port;
	local_addr(k->local_addr, sk, family);
	remote_addr(k->remote_addr, sk, family);
}

// open_counted decides how a newly open connection is seen: it returns 1
// when the flow already had its PEEK_SAMPLES connections reported, after
// counting this one in the flows map, and 0 when the connection is to be
// reported one by one.
static __always_inline int open_counted(struct sock *sk, __u8 family, struct owner *o, __u8 role)
{
	struct flow_key k = {};
	make_key(&k, sk, family, o->cgroup_id, role, o->local_port);
	__u64 now = bpf_ktime_get_boot_ns();
	struct flow_counts *c = bpf_map_lookup_elem(&flows, &k);
	if (!c) {
		struct flow_counts fresh = {};
		fresh.samples = 1;
		fresh.first_ns = now;
		fresh.last_ns = now;
		fresh.pid = o->pid;
		__builtin_memcpy(fresh.comm, o->comm, sizeof(fresh.comm));
		// Fails when another CPU added the flow just now, or when the
		// map is full (E2BIG, or ENOMEM on 6.1): either way this
		// connection is reported, and only the second is worth a count.
		long err = bpf_map_update_elem(&flows, &k, &fresh, BPF_NOEXIST);
		if (err && err != -EEXIST)
			count_drop(DROP_FLOWS_FULL);
		return 0;
	}
	if (c->samples < PEEK_SAMPLES) {
		__sync_fetch_and_add(&c->samples, 1);
		return 0;
	}
	__sync_fetch_and_add(&c->opened, 1);
	c->last_ns = now;
	return 1;
}

// close_counted counts the end of a counted connection: bytes when it was
// open (failed is 0), a failed connect() otherwise. It returns 0 when the
// flow is not in the map.
static __always_inline int close_counted(struct sock *sk, __u8 family, struct owner *o, __u8 role, int failed)
{
	struct flow_key k = {};
	make_key(&k, sk, family, o->cgroup_id, role, o->local_port);
	struct flow_counts *c = bpf_map_lookup_elem(&flows, &k);
	if (!c)
		return 0;
	if (failed) {
		if (c->samples < PEEK_SAMPLES)
			return 0; // a flow still reporting its connections: report this too
		__sync_fetch_and_add(&c->failed, 1);
	} else {
		__sync_fetch_and_add(&c->closed, 1);
		struct tcp_sock *tp = bpf_skc_to_tcp_sock(sk);
		if (tp) {
			__u64 received = tp->bytes_received;
			if ((sk->__sk_common.skc_flags & (1UL << SOCK_DONE)) && received > 0)
				received -= 1;
			__sync_fetch_and_add(&c->bytes_sent, tp->bytes_sent - tp->bytes_retrans);
			__sync_fetch_and_add(&c->bytes_received, received);
		}
	}
	c->last_ns = bpf_ktime_get_boot_ns();
	return 1;
}

// adopt_listeners runs once, as an iterator over every process's open
// files, right after the tracepoint is attached: a server that was
// listening before the observer started never called listen() where the
// program could see it, so its connections would have no owner (pid, comm,
// cgroup: the cgroup is what names the pod). For each listening TCP or
// Multipath TCP socket it keeps the process holding it in the adopted map,
// and reports the listener. Threads sharing one file table are visited
// once. It sees the processes of the observer's PID namespace: in a
// container, give it the host's (hostPID).
SEC("iter/task_file")
int adopt_listeners(struct bpf_iter__task_file *ctx)
{
	struct task_struct *task = ctx->task;
	struct file *file = ctx->file;
	if (!task || !file)
		return 0;
	struct socket *sock = bpf_sock_from_file(file);
	if (!sock)
		return 0;
	struct sock *sk = sock->sk;
	// A Multipath TCP listener (Go's default since 1.24) accepts through
	// a TCP socket of its own, on the same address and port.
	if (!sk || (sk->sk_protocol != IPPROTO_TCP && sk->sk_protocol != IPPROTO_MPTCP) ||
	    sk->__sk_common.skc_state != TCP_LISTEN)
		return 0;
	__u8 family = sk->__sk_common.skc_family;
	if (family != AF_INET && family != AF_INET6)
		return 0;
	struct listener_key k = {};
	k.netns = sk->__sk_common.skc_net.net->ns.inum;
	k.port = sk->__sk_common.skc_num;
	local_addr(k.addr, sk, family);
	struct owner o = {};
	o.pid = task->tgid;
	o.cgroup_id = task->cgroups->dfl_cgrp->kn->id;
	bpf_probe_read_kernel_str(o.comm, sizeof(o.comm), task->comm);
	o.flags = FLAG_OWNER_KNOWN;
	o.local_port = k.port;
	if (bpf_map_update_elem(&adopted, &k, &o, BPF_NOEXIST))
		return 0; // already adopted: another process shares the socket, or the map is full
	return emit(sk, 0, family, EVENT_LISTEN, 0, &o, 0);
}

// adopt_owner gives an accepted socket without an owner the owner of its
// listener, when adopt_listeners found it: looked up by the connection's
// local address, then the listener's wildcard addresses.
static __always_inline void adopt_owner(struct sock *sk, __u8 family, struct owner *o)
{
	struct listener_key k = {};
	k.netns = sk->__sk_common.skc_net.net->ns.inum;
	k.port = sk->__sk_common.skc_num;
	local_addr(k.addr, sk, family);
	struct owner *l = bpf_map_lookup_elem(&adopted, &k);
	if (!l) {
		__builtin_memset(k.addr, 0, 16); // ::
		l = bpf_map_lookup_elem(&adopted, &k);
	}
	if (!l && family == AF_INET) {
		v4_mapped(k.addr, 0); // 0.0.0.0
		l = bpf_map_lookup_elem(&adopted, &k);
	}
	if (!l)
		return;
	o->pid = l->pid;
	o->cgroup_id = l->cgroup_id;
	__builtin_memcpy(o->comm, l->comm, sizeof(o->comm));
	o->flags |= FLAG_OWNER_KNOWN;
}

// handled marks o as handled for the change to newstate, so that the
// tracker's spare copy does not handle it again.
static __always_inline void handled(struct owner *o, int newstate)
{
	if (o)
		o->handled = newstate;
}

// track handles one state change of sk. rescue is set in the tracker's
// spare copy, which runs it only when the tracker was skipped: it then
// leaves alone a change the tracker did handle after all.
static __always_inline int track(struct sock *sk, int oldstate, int newstate, bool rescue)
{
	if (sk->sk_protocol != IPPROTO_TCP)
		return 0;
	__u8 family = sk->__sk_common.skc_family;
	if (family != AF_INET && family != AF_INET6)
		return 0;

	struct owner *o;
	if (rescue) {
		o = bpf_sk_storage_get(&owners, sk, 0, 0);
		if (o && o->handled == newstate)
			return 0;
	}
	switch (newstate) {
	case TCP_SYN_SENT:
		handled(record_owner(sk), newstate);
		return 0;
	case TCP_LISTEN:
		o = record_owner(sk);
		handled(o, newstate);
		return emit(sk, bpf_get_socket_cookie(sk), family, EVENT_LISTEN, 0, o, 0);
	case TCP_ESTABLISHED: {
		__u8 role, type;
		if (oldstate == TCP_SYN_SENT) {
			role = FLAG_CLIENT;
			type = EVENT_CONNECT;
		} else if (oldstate == TCP_SYN_RECV) {
			role = FLAG_SERVER;
			type = EVENT_ACCEPT;
		} else {
			return 0;
		}
		// A socket that connected or listened before we attached has no
		// owner: create its storage anyway, so that its close is seen.
		o = bpf_sk_storage_get(&owners, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
		if (!o) {
			count_drop(DROP_NO_STORAGE);
			return emit(sk, bpf_get_socket_cookie(sk), family, type, 0, 0, role);
		}
		o->flags |= role;
		o->handled = newstate;
		o->local_port = sk->__sk_common.skc_num;
		if (role == FLAG_SERVER && !(o->flags & FLAG_OWNER_KNOWN))
			adopt_owner(sk, family, o);
		if (aggregate && open_counted(sk, family, o, role)) {
			o->flags |= FLAG_COUNTED | FLAG_PEEKED_EGRESS | FLAG_PEEKED_INGRESS;
			return 0;
		}
		return emit(sk, bpf_get_socket_cookie(sk), family, type, 0, o, 0);
	}
	case TCP_CLOSE:
		o = bpf_sk_storage_get(&owners, sk, 0, 0);
		if (!o)
			return 0;
		o->handled = newstate;
		if (oldstate == TCP_SYN_SENT) {
			if (aggregate && close_counted(sk, family, o, FLAG_CLIENT, 1))
				return 0;
			return emit(sk, bpf_get_socket_cookie(sk), family, EVENT_CONNECT_FAILED, oldstate, o, FLAG_CLIENT);
		}
		if (!(o->flags & (FLAG_CLIENT | FLAG_SERVER)))
			return 0; // a listener, or a socket that never opened
		if (aggregate && (o->flags & FLAG_COUNTED) && close_counted(sk, family, o, o->flags & (FLAG_CLIENT | FLAG_SERVER), 0))
			return 0;
		return emit(sk, bpf_get_socket_cookie(sk), family, EVENT_CLOSE, oldstate, o, 0);
	}
	return 0;
}

// inet_sock_set_state is the tracker. It marks its CPU while it runs, and
// puts the mark back as it was rather than clearing it, so that a test can
// hold it.
SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(inet_sock_set_state, struct sock *sk, int oldstate, int newstate)
{
	__u32 zero = 0;
	__u32 *mark = bpf_map_lookup_elem(&tracking, &zero);
	if (!mark)
		return track(sk, oldstate, newstate, false);
	__u32 was = *mark;
	*mark = 1;
	track(sk, oldstate, newstate, false);
	*mark = was;
	return 0;
}

// tracker_spare is the tracker's spare copy, attached after it: it handles
// the changes the kernel skipped the tracker for, which it knows by the
// tracker's mark on this CPU: the tracker is running elsewhere, so it was
// not run for this change.
SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(tracker_spare, struct sock *sk, int oldstate, int newstate)
{
	__u32 zero = 0;
	__u32 *mark = bpf_map_lookup_elem(&tracking, &zero);
	if (!mark || !*mark)
		return 0;
	count_drop(DROP_RESCUED);
	return track(sk, oldstate, newstate, true);
}

// peek reports the first payload bytes a tracked, open TCP socket sends or
// receives, once per direction. cgroup_skb programs see the packet from its
// network header.
static __always_inline void peek(struct __sk_buff *skb, __u8 dir)
{
	struct bpf_sock *sk = skb->sk;
	if (!sk)
		return;
	sk = bpf_sk_fullsock(sk);
	if (!sk || sk->protocol != IPPROTO_TCP)
		return;
	struct owner *o = bpf_sk_storage_get(&owners, sk, 0, 0);
	if (!o || !(o->flags & (FLAG_CLIENT | FLAG_SERVER)))
		return;
	__u8 peeked = dir == DIR_EGRESS ? FLAG_PEEKED_EGRESS : FLAG_PEEKED_INGRESS;
	if (o->flags & peeked)
		return;

	__u8 b;
	if (bpf_skb_load_bytes(skb, 0, &b, 1))
		return;
	__u32 off;
	if ((b >> 4) == 4) {
		__u8 proto;
		if (bpf_skb_load_bytes(skb, 9, &proto, 1) || proto != IPPROTO_TCP)
			return;
		off = (b & 0x0f) * 4;
	} else if ((b >> 4) == 6) {
		__u8 next;
		if (bpf_skb_load_bytes(skb, 6, &next, 1) || next != IPPROTO_TCP)
			return; // extension headers: not worth following here
		off = 40;
	} else {
		return;
	}
	__u8 doff;
	if (bpf_skb_load_bytes(skb, off + 12, &doff, 1))
		return;
	off += (doff >> 4) * 4;
	if (skb->len <= off)
		return; // no payload: SYN, ACK, FIN
	__u32 len = skb->len - off;
	if (len > PAYLOAD_MAX)
		len = PAYLOAD_MAX;
	// bpf_skb_load_bytes needs a length the verifier can prove is 1 to
	// PAYLOAD_MAX. Older verifiers (6.1) learn nothing from len != 0, so
	// the bounds are made by arithmetic they follow: the barrier keeps
	// the compiler from folding it away.
	asm volatile("" : "+r"(len));
	len = ((len - 1) & (PAYLOAD_MAX - 1)) + 1;

	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count_drop(DROP_RINGBUF_FULL);
		return;
	}
	__builtin_memset(e, 0, sizeof(*e));
	if (bpf_skb_load_bytes(skb, off, e->payload, len)) {
		bpf_ringbuf_discard(e, 0);
		return;
	}
	o->flags |= peeked;
	e->timestamp_ns = bpf_ktime_get_boot_ns();
	e->cookie = bpf_get_socket_cookie(skb);
	e->type = EVENT_PAYLOAD;
	e->direction = dir;
	e->payload_len = len;
	e->family = sk->family;
	e->local_port = sk->src_port;
	e->remote_port = bpf_ntohs(sk->dst_port);
	e->pid = o->pid;
	e->cgroup_id = o->cgroup_id;
	__builtin_memcpy(e->comm, o->comm, sizeof(e->comm));
	e->flags = o->flags & (FLAG_OWNER_KNOWN | FLAG_CLIENT | FLAG_SERVER);
	bpf_ringbuf_submit(e, wakeup());
}

SEC("cgroup_skb/egress")
int peek_egress(struct __sk_buff *skb)
{
	peek(skb, DIR_EGRESS);
	return 1; // observe only: always let the packet through
}

SEC("cgroup_skb/ingress")
int peek_ingress(struct __sk_buff *skb)
{
	peek(skb, DIR_INGRESS);
	return 1;
}
