//go:build !unix

package load

// selfCPU is unknown off Unix (0: the generator CPU columns read 0 %).
func selfCPU() float64 { return 0 }
