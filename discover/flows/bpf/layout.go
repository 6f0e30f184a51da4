package bpf

// RawEvent is the layout of one ring buffer record, as flow.c writes it.
type RawEvent = flowEvent

// FlowKey and FlowCounts are the layout of the flows map: the connections
// of a flow that were counted in the kernel instead of reported.
type (
	FlowKey    = flowFlowKey
	FlowCounts = flowFlowCounts
)

// Event types (RawEvent.Type).
const (
	EventListen        = uint8(flowEventTypeEVENT_LISTEN)
	EventConnect       = uint8(flowEventTypeEVENT_CONNECT)
	EventAccept        = uint8(flowEventTypeEVENT_ACCEPT)
	EventClose         = uint8(flowEventTypeEVENT_CLOSE)
	EventConnectFailed = uint8(flowEventTypeEVENT_CONNECT_FAILED)
	EventPayload       = uint8(flowEventTypeEVENT_PAYLOAD)
)

// Directions of an EventPayload (RawEvent.Direction).
const (
	DirEgress  = uint8(flowDirectionDIR_EGRESS)
	DirIngress = uint8(flowDirectionDIR_INGRESS)
)

// PayloadMax is how many bytes of payload an EventPayload carries at most.
const PayloadMax = len(RawEvent{}.Payload)

// Event flags (RawEvent.Flags).
const (
	FlagOwnerKnown = uint8(flowEventFlagsFLAG_OWNER_KNOWN)
	FlagClient     = uint8(flowEventFlagsFLAG_CLIENT)
	FlagServer     = uint8(flowEventFlagsFLAG_SERVER)
	FlagBytes      = uint8(flowEventFlagsFLAG_BYTES)
)

// Drop counters, indexes of Drops.
const (
	DropRingBufferFull = int(flowDropReasonDROP_RINGBUF_FULL)
	DropNoStorage      = int(flowDropReasonDROP_NO_STORAGE)
	DropFlowsFull      = int(flowDropReasonDROP_FLOWS_FULL)
	DropRescued        = int(flowDropReasonDROP_RESCUED)
	dropReasons        = int(flowDropReasonDROP_REASONS)
)

// Drops are the kernel-side drop counters summed over CPUs, indexed by
// DropRingBufferFull, DropNoStorage, DropFlowsFull and DropRescued.
type Drops [dropReasons]uint64
