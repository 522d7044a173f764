// uart.v - Pico SoC UART0: APB register interface, baud divisor, TX and RX.
// Register map (offsets from 0x4000_1000), see docs/uart.md:
//   0x00 CTRL     [0] TX_EN [1] RX_EN [3] LOOPBACK
//   0x04 STATUS   [0] TX_BUSY (RO) [1] RX_VALID (RO) [2] RX_OVERRUN (W1C) [3] FRAME_ERR (W1C) [4] TX_DONE (W1C)
//   0x08 BAUD_DIV [15:0] DIV, baud = f_clk / (16 * (DIV + 1)), reset 0x001A
//   0x0C TXDATA   [7:0] (WO)
//   0x10 RXDATA   [7:0] (RO, a read clears RX_VALID)
//   0x14 IRQ_EN   [0] RX_IE [1] TX_DONE_IE [2] ERR_IE
module uart (
    input  wire        clk,
    input  wire        rst_n,
    input  wire        psel,
    input  wire        penable,
    input  wire        pwrite,
    input  wire [7:0]  paddr,
    input  wire [31:0] pwdata,
    output reg  [31:0] prdata,
    output wire        pready,
    input  wire        rxd,
    output wire        txd,
    output wire        irq
);
    localparam A_CTRL     = 8'h00;
    localparam A_STATUS   = 8'h04;
    localparam A_BAUD_DIV = 8'h08;
    localparam A_TXDATA   = 8'h0C;
    localparam A_RXDATA   = 8'h10;
    localparam A_IRQ_EN   = 8'h14;

    reg  [3:0]  ctrl;
    reg  [15:0] baud_div;
    reg  [2:0]  irq_en;
    reg  [15:0] div_cnt;
    reg         tick16;
    reg  [7:0]  rx_buf;
    reg         rx_valid;
    reg         rx_overrun;
    reg         frame_err_st;
    reg         tx_done_st;

    wire wr = psel & penable & pwrite;
    wire rd = psel & penable & ~pwrite;
    wire tx_busy, tx_done, rx_valid_p, rx_ferr_p, txd_int;
    wire [7:0] rx_data;

    assign pready = 1'b1;

    // 16x oversampling tick: one pulse every (BAUD_DIV + 1) clocks.
    // Writing BAUD_DIV restarts the counter so the new rate applies at once.
    always @(posedge clk or negedge rst_n) begin
        if (!rst_n) begin
            div_cnt <= 16'd0;
            tick16  <= 1'b0;
        end else if (wr && paddr == A_BAUD_DIV) begin
            div_cnt <= 16'd0;
            tick16  <= 1'b0;
        end else if (div_cnt == baud_div) begin
            div_cnt <= 16'd0;
            tick16  <= 1'b1;
        end else begin
            div_cnt <= div_cnt + 16'd1;
            tick16  <= 1'b0;
        end
    end

    always @(posedge clk or negedge rst_n) begin
        if (!rst_n) begin
            ctrl         <= 4'h0;
            baud_div     <= 16'h001A;
            irq_en       <= 3'b000;
            rx_buf       <= 8'h00;
            rx_valid     <= 1'b0;
            rx_overrun   <= 1'b0;
            frame_err_st <= 1'b0;
            tx_done_st   <= 1'b0;
        end else begin
            if (wr && paddr == A_CTRL)     ctrl     <= pwdata[3:0];
            if (wr && paddr == A_BAUD_DIV) baud_div <= pwdata[15:0];
            if (wr && paddr == A_IRQ_EN)   irq_en   <= pwdata[2:0];
            // W1C status bits
            if (wr && paddr == A_STATUS) begin
                if (pwdata[2]) rx_overrun   <= 1'b0;
                if (pwdata[3]) frame_err_st <= 1'b0;
                if (pwdata[4]) tx_done_st   <= 1'b0;
            end
            if (rd && paddr == A_RXDATA) rx_valid <= 1'b0;
            if (rx_valid_p) begin
                if (rx_valid) rx_overrun <= 1'b1;
                rx_buf   <= rx_data;
                rx_valid <= 1'b1;
            end
            if (rx_ferr_p) frame_err_st <= 1'b1;
            if (tx_done)   tx_done_st   <= 1'b1;
        end
    end

    always @(*) begin
        case (paddr)
            A_CTRL:     prdata = {28'd0, ctrl};
            A_STATUS:   prdata = {27'd0, tx_done_st, frame_err_st, rx_overrun, rx_valid, tx_busy};
            A_BAUD_DIV: prdata = {16'd0, baud_div};
            A_RXDATA:   prdata = {24'd0, rx_buf};
            A_IRQ_EN:   prdata = {29'd0, irq_en};
            default:    prdata = 32'd0;
        endcase
    end

    assign irq = (irq_en[0] & rx_valid) | (irq_en[1] & tx_done_st) |
                 (irq_en[2] & (rx_overrun | frame_err_st));

    uart_tx u_tx (
        .clk(clk), .rst_n(rst_n), .tick16(tick16), .tx_en(ctrl[0]),
        .load(wr && paddr == A_TXDATA), .data(pwdata[7:0]),
        .txd(txd_int), .busy(tx_busy), .done(tx_done)
    );

    // LOOPBACK (CTRL[3]) feeds TX back into RX and holds the TXD pin idle-high.
    uart_rx u_rx (
        .clk(clk), .rst_n(rst_n), .tick16(tick16), .rx_en(ctrl[1]),
        .rxd(ctrl[3] ? txd_int : rxd),
        .data(rx_data), .valid(rx_valid_p), .frame_err(rx_ferr_p)
    );

    assign txd = ctrl[3] ? 1'b1 : txd_int;
endmodule
