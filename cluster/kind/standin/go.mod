// The stand-in for exchange-router in the kind tier's tests (standard library only).
module exchange.platform/cluster/kind/standin

go 1.26.0
