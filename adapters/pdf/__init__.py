"""Invoice and credit-note PDFs (fpdf2): document content, layout, fonts, drawing."""
