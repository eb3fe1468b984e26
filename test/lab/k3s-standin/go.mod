module oceanid.lab/k3s-standin

go 1.26
