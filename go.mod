module github.com/evbill/evbill

go 1.26

require (
	github.com/govalues/decimal v0.1.36
	pgregory.net/rapid v1.3.0
)
