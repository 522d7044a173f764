read_db alu.odb
run_cts -buf_list {BUF_X1}
