package store_test

import (
	"testing"

	"paydesk/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }
